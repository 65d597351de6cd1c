/**
 * A results dir as a run of several systems would leave it: results.jsonl (with a retried
 * attempt and a torn last line), trace.jsonl (samples every 100 ms and stage events on one time
 * axis, consistent with the records), environment.json. Used by the report and browser tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StageRecord, TraceEvent } from '../../src/experiment/record.js';
import { BASELINE, makeCell, type CellSpec } from './fixtures.js';

const SYSTEMS: Omit<CellSpec, 'payloadType' | 'grade' | 'repetition'>[] = [
  { system: 'sqlite', variant: 'default', costPerByte: 1.04, maintenanceReclaims: 0.99 },
  { system: 'pglite', variant: 'default', costPerByte: 1.02, maintenanceReclaims: 0.95 },
  { system: 'duckdb', variant: 'default', costPerByte: 1.1, maintenanceReclaims: 0.5 },
  { system: 'redis', instance: 'cache-a', variant: 'by-content', costPerByte: 1.3, dedups: true, maintenanceReclaims: 0 },
];

export function sampleRecords(runs = 2): StageRecord[] {
  const records: StageRecord[] = [];
  let clock = Date.UTC(2025, 0, 15, 10, 0, 0);
  for (const system of SYSTEMS) {
    for (const payloadType of ['random_binary', 'text_document']) {
      for (const grade of ['U0', 'U50', 'U90']) {
        for (let repetition = 1; repetition <= runs; repetition++) {
          const cost = (system.costPerByte ?? 1) * (payloadType === 'text_document' ? 0.45 : 1) * (1 + repetition / 200);
          const cell = makeCell({ ...system, payloadType, grade, repetition, costPerByte: cost, startMs: clock });
          clock = Date.parse(cell[4]!.startedAt) + cell[4]!.durationMs + 200;
          records.push(...cell);
        }
      }
    }
  }
  // Flags a reader must see.
  const flagged = records.find((r) => r.system === 'redis' && r.grade === 'U90' && r.stage === 'bulk_insert')!;
  flagged.edr = 14.2;
  flagged.edrFlag = { status: 'implausible', reason: 'EDR 14.20 > ideal 10.00 × compressibility 1.00 × 1.25' };
  const unmeasurable = records.find((r) => r.system === 'duckdb' && r.grade === 'U50' && r.stage === 'compaction')!;
  unmeasurable.edr = null;
  unmeasurable.edrFlag = { status: 'unmeasurable', reason: 'internal probe read failed after the stage' };
  const notApplicable = records.filter((r) => r.system === 'redis' && r.stage === 'maintenance');
  for (const record of notApplicable) {
    record.edrFlag = { status: 'not-applicable', reason: 'Redis has no space-reclaiming command' };
    record.reclaimedBytes = 0;
  }
  return records;
}

/** Samples every 100 ms of a growing/shrinking size, and stage events, per system instance. */
export function sampleTrace(records: readonly StageRecord[]): TraceEvent[] {
  const events: TraceEvent[] = [];
  for (const record of records) {
    const start = Date.parse(record.startedAt);
    const end = start + record.durationMs;
    const base = { system: record.system, instance: record.instance, cellId: record.cellId, stage: record.stage };
    events.push({ t: start, kind: 'stage_start', ...base });
    const before = record.internalBefore ?? BASELINE;
    const after = record.internalAfter ?? BASELINE;
    for (let t = start; t < end; t += 100) {
      const progress = (t - start) / record.durationMs;
      const size = before + (after - before) * progress;
      events.push({ t, kind: 'sample', system: record.system, instance: record.instance, metrics: { db_bytes: size, wal_bytes: size * 0.1, page_count: Math.round(size / 4096) } });
    }
    events.push({ t: end, kind: 'stage_end', ...base, ok: record.error === null });
  }
  return events.sort((a, b) => a.t - b.t);
}

export function writeSampleResultsDir(dir: string, runs = 2): StageRecord[] {
  mkdirSync(dir, { recursive: true });
  const records = sampleRecords(runs);
  // A superseded first attempt of one cell, which the report must not show.
  const stale = makeCell({ system: 'sqlite', payloadType: 'random_binary', grade: 'U0', repetition: 1, attempt: 0, costPerByte: 9 });
  const lines = [...stale.slice(0, 2), ...records].map((record) => JSON.stringify(record));
  writeFileSync(join(dir, 'results.jsonl'), `${lines.join('\n')}\n{"runId":"run-2025`);
  writeFileSync(join(dir, 'trace.jsonl'), `${sampleTrace(records).map((event) => JSON.stringify(event)).join('\n')}\n`);
  writeFileSync(
    join(dir, 'environment.json'),
    JSON.stringify({ toolVersion: '0.1.0', node: process.version, systems: { sqlite: '3.46.0' }, config: { systems: [{ id: 'redis', options: { password: 'hunter2-secret' } }] } }, null, 2),
  );
  return records;
}
