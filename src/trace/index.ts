/**
 * Trace (SPEC §7): stage events and periodic metric samples on one time axis (epoch ms) in
 * trace.jsonl, and optionally a Kafka topic and a Prometheus Pushgateway.
 *
 * The runner calls `stage()` around every stage and `watch()`/`unwatch()` around each adapter's
 * cells. Every sink sits behind a bounded queue drained in the background (queue.ts), so neither
 * a slow disk nor an unreachable Kafka or Pushgateway can slow or crash a run; sink errors are
 * logged once per failure streak.
 */
import { join } from 'node:path';
import type { StageRecord, TraceEvent } from '../experiment/record.js';
import type { SystemAdapter } from '../systems/types.js';
import type { Config } from '../config/schema.js';
import { log } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import { QueuedSink } from './queue.js';
import { fileTransport, kafkaTransport, pushgatewayTransport } from './sinks.js';
import { Sampler } from './sampler.js';
import { resultPusher } from './results-push.js';

export type StageEvent = Extract<TraceEvent, { kind: 'stage_start' | 'stage_end' }>;

export interface Tracer {
  /** Record a stage event now (the tracer stamps `t`). */
  stage(event: Omit<StageEvent, 't'>): void;
  /** Start sampling this adapter's cheap metrics (connection reused, never the measured one's work). */
  watch(adapter: SystemAdapter): void;
  unwatch(adapter: SystemAdapter): void;
  /** A stage finished with this record: its result metrics go to the Pushgateway, when one is set. */
  result(record: StageRecord): void;
  close(): Promise<void>;
}

export interface TraceOptions {
  resultsDir: string;
  intervalMs: number;
  sinks: Config['trace'];
}

/** What a tracer did, for tests and the end-of-run log line. */
export interface TraceStats {
  samples: number;
  stageEvents: number;
  skippedTicks: number;
  sampleErrors: number;
  sinks: { name: string; sent: number; dropped: number; failed: number }[];
  /** Stage records pushed to the Pushgateway (null without one). */
  results: { pushed: number; failed: number } | null;
}

export interface TracerWithStats extends Tracer {
  stats(): TraceStats;
  /** Wait until every event so far reached every sink (or failed). */
  flush(): Promise<void>;
}

export async function startTrace(options: TraceOptions): Promise<TracerWithStats> {
  const warnOnce = (message: string) => log.warn(message);
  const sinks: QueuedSink[] = [new QueuedSink(fileTransport(join(options.resultsDir, 'trace.jsonl')), { onError: warnOnce })];
  if (options.sinks?.kafka) {
    try {
      sinks.push(new QueuedSink(await kafkaTransport(options.sinks.kafka), { onError: warnOnce }));
    } catch (error) {
      // The trace is an aid: a run goes on without the Kafka sink, and says so.
      log.warn(`trace sink kafka disabled: ${errorMessage(error)}`);
    }
  }
  if (options.sinks?.pushgateway) {
    sinks.push(new QueuedSink(pushgatewayTransport(options.sinks.pushgateway), { onError: warnOnce }));
  }
  const results = options.sinks?.pushgateway ? resultPusher(options.sinks.pushgateway, warnOnce) : null;
  const emit = (event: TraceEvent) => {
    for (const sink of sinks) sink.push(event);
  };

  let samples = 0;
  let stageEvents = 0;
  let sampleErrors = 0;
  const failingAdapters = new Set<SystemAdapter>();
  const sampler = new Sampler({
    intervalMs: options.intervalMs,
    onSample: ({ adapter, t, metrics }) => {
      samples += 1;
      failingAdapters.delete(adapter);
      emit({ t, kind: 'sample', system: adapter.id, instance: adapter.instance, metrics });
    },
    onError: (adapter, message) => {
      sampleErrors += 1;
      if (!failingAdapters.has(adapter)) log.warn(`trace: sampling ${adapter.id}/${adapter.instance} failed: ${message}`);
      failingAdapters.add(adapter);
    },
  });

  let closed = false;
  return {
    stage(event) {
      stageEvents += 1;
      emit({ ...event, t: Date.now() } as StageEvent);
    },
    watch: (adapter) => {
      if (!closed) sampler.watch(adapter);
    },
    unwatch: (adapter) => {
      void sampler.unwatch(adapter);
    },
    result: (record) => {
      if (!closed) results?.push(record);
    },
    stats: () => ({
      samples,
      stageEvents,
      skippedTicks: sampler.skippedTicks,
      sampleErrors,
      sinks: sinks.map((sink) => ({ name: sink.name, sent: sink.sent, dropped: sink.dropped, failed: sink.failed })),
      results: results ? { pushed: results.pushed, failed: results.failed } : null,
    }),
    flush: async () => {
      await Promise.all([...sinks.map((sink) => sink.flush()), results?.settle()]);
    },
    async close() {
      if (closed) return;
      closed = true;
      await sampler.stop();
      await Promise.all([...sinks.map((sink) => sink.close()), results?.settle()]);
      for (const sink of sinks) {
        if (sink.dropped > 0 || sink.failed > 0) log.warn(`trace sink ${sink.name}: ${sink.dropped} event(s) dropped (queue full), ${sink.failed} not delivered`);
      }
    },
  };
}
