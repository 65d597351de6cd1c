/**
 * The trace sampler: every `intervalMs` it asks each watched adapter for its cheap metrics.
 * A sample that is still running when the next tick comes makes that adapter skip the tick
 * (never two samples of one adapter at once, never a queue of late samples). The timer is
 * unref'd so it never keeps the process alive, and samples are emitted with the time the
 * sample was taken, on the same clock as the stage events.
 */
import type { SystemAdapter } from '../systems/types.js';
import { errorMessage } from '../core/errors.js';

export interface SampleOutcome {
  adapter: SystemAdapter;
  /** Epoch milliseconds when the sample was asked for. */
  t: number;
  metrics: Record<string, number>;
}

export interface SamplerOptions {
  intervalMs: number;
  onSample(outcome: SampleOutcome): void;
  /** A failed sample: reported (once per adapter per failure streak by the caller's choice). */
  onError(adapter: SystemAdapter, message: string): void;
  now?: () => number;
}

export const MIN_TRACE_INTERVAL_MS = 100;

/** Only finite numbers are metrics; anything else an adapter returns is left out. */
export function finiteMetrics(raw: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value === 'number' && Number.isFinite(value)) out[name] = value;
    else if (typeof value === 'bigint') out[name] = Number(value);
  }
  return out;
}

export class Sampler {
  private readonly watched = new Set<SystemAdapter>();
  private readonly inFlight = new Map<SystemAdapter, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  /** Ticks an adapter skipped because its previous sample was still running. */
  skippedTicks = 0;
  ticks = 0;
  private readonly now: () => number;

  constructor(private readonly options: SamplerOptions) {
    if (!(options.intervalMs >= MIN_TRACE_INTERVAL_MS)) {
      throw new RangeError(`trace interval ${options.intervalMs} ms is below the minimum of ${MIN_TRACE_INTERVAL_MS} ms`);
    }
    this.now = options.now ?? Date.now;
  }

  watch(adapter: SystemAdapter): void {
    this.watched.add(adapter);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  /** Stop sampling the adapter; an in-flight sample of it is awaited so nothing outlives it. */
  async unwatch(adapter: SystemAdapter): Promise<void> {
    this.watched.delete(adapter);
    if (this.watched.size === 0) this.stopTimer();
    await this.inFlight.get(adapter);
  }

  /** One round of samples now (the timer calls this; tests may too). */
  tick(): void {
    this.ticks += 1;
    for (const adapter of this.watched) {
      if (this.inFlight.has(adapter)) {
        this.skippedTicks += 1;
        continue;
      }
      const t = this.now();
      const sample = (async () => {
        try {
          const metrics = finiteMetrics(await adapter.sampleMetrics());
          // A sample that finishes after unwatch() belongs to a closed chapter: drop it.
          if (this.watched.has(adapter)) this.options.onSample({ adapter, t, metrics });
        } catch (error) {
          this.options.onError(adapter, errorMessage(error));
        } finally {
          this.inFlight.delete(adapter);
        }
      })();
      this.inFlight.set(adapter, sample);
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async stop(): Promise<void> {
    this.stopTimer();
    this.watched.clear();
    await Promise.all(this.inFlight.values());
  }
}
