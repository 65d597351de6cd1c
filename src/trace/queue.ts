/**
 * A sink behind a bounded queue (SPEC §7: the sampler never slows the measured work). `push`
 * returns at once; one drain loop sends batches in the background. When the destination is
 * slower than the trace, the oldest queued events are dropped (and counted) rather than letting
 * memory grow. A failing destination is reported once, never thrown into the run.
 */
import type { TraceEvent } from '../experiment/record.js';
import { errorMessage } from '../core/errors.js';

export interface SinkTransport {
  readonly name: string;
  send(batch: TraceEvent[]): Promise<void>;
  close?(): Promise<void>;
}

export interface QueuedSinkOptions {
  /** Most events held while the destination is busy (default 10 000). */
  capacity?: number;
  /** Most events handed to one `send` (default 1 000). */
  maxBatch?: number;
  /** Called once per distinct failure streak, with a scrubbed message. */
  onError?: (message: string) => void;
}

export class QueuedSink {
  private queue: TraceEvent[] = [];
  private draining: Promise<void> | null = null;
  private failing = false;
  private closed = false;
  /** Events discarded because the queue was full. */
  dropped = 0;
  /** Events the destination refused (send failed). */
  failed = 0;
  sent = 0;
  readonly capacity: number;
  private readonly maxBatch: number;

  constructor(
    private readonly transport: SinkTransport,
    private readonly options: QueuedSinkOptions = {},
  ) {
    this.capacity = options.capacity ?? 10_000;
    this.maxBatch = options.maxBatch ?? 1_000;
  }

  get name(): string {
    return this.transport.name;
  }

  push(event: TraceEvent): void {
    if (this.closed) return;
    this.queue.push(event);
    if (this.queue.length > this.capacity) {
      const excess = this.queue.length - this.capacity;
      this.queue.splice(0, excess);
      this.dropped += excess;
    }
    // Start draining on a later turn so a burst of pushes in one tick goes out as one batch.
    if (!this.draining) this.draining = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          await this.transport.send(batch);
          this.sent += batch.length;
          this.failing = false;
        } catch (error) {
          this.failed += batch.length;
          if (!this.failing) this.options.onError?.(`trace sink ${this.transport.name}: ${errorMessage(error)}`);
          this.failing = true;
        }
      }
    } finally {
      this.draining = null;
    }
  }

  /** Wait until everything queued so far was sent (or failed). */
  async flush(): Promise<void> {
    while (this.draining || this.queue.length > 0) {
      if (!this.draining) this.draining = this.drain();
      await this.draining;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    try {
      await this.transport.close?.();
    } catch (error) {
      this.options.onError?.(`trace sink ${this.transport.name}: closing: ${errorMessage(error)}`);
    }
  }
}
