/**
 * Trace (SPEC §7): stage events and periodic metric samples on one time axis in trace.jsonl.
 *
 * Minimal first version: stage events only, appended synchronously. The sampler and the
 * Kafka / Pushgateway sinks arrive with the reports-and-trace issue behind the same interface.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TraceEvent } from '../experiment/record.js';
import type { SystemAdapter } from '../systems/types.js';
import type { Config } from '../config/schema.js';

export type StageEvent = Extract<TraceEvent, { kind: 'stage_start' | 'stage_end' }>;

export interface Tracer {
  /** Record a stage event now (the tracer stamps `t`). */
  stage(event: Omit<StageEvent, 't'>): void;
  /** Start sampling this adapter's cheap metrics (connection reused, never the measured one's work). */
  watch(adapter: SystemAdapter): void;
  unwatch(adapter: SystemAdapter): void;
  close(): Promise<void>;
}

export interface TraceOptions {
  resultsDir: string;
  intervalMs: number;
  sinks: Config['trace'];
}

export async function startTrace(options: TraceOptions): Promise<Tracer> {
  const file = join(options.resultsDir, 'trace.jsonl');
  const write = (event: TraceEvent) => appendFileSync(file, `${JSON.stringify(event)}\n`);
  return {
    stage: (event) => write({ ...event, t: Date.now() } as TraceEvent),
    watch: () => {},
    unwatch: () => {},
    close: async () => {},
  };
}
