/**
 * Checks behind test/systems/answer-storage*.test.ts. Issue 10: every row of the answer table for the local services agrees with its storage layer.
 * One small matrix over every local server system and every variant (U0/U90), then, per row of
 * dedupVerdicts (src/report/verdict.ts): its EDRs, its "returned" shares and its verdict are the
 * lab-scoped storage probe's (memory for Redis) numbers of the same records, and where another
 * layer's EDR differs by more than 10 % the rendered row shows both numbers and a reason.
 * Expectations come from the records' own probe readings, never from constants.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { ProbeResult, StageRecord } from '../../src/experiment/record.js';
import { dedupShare, dedupVerdicts, MIN_JUDGEABLE_IDEAL, physicalVerdict, verdictCells, verdictText, type DedupVerdict } from '../../src/report/verdict.js';
import type { ProbeLayer, StageName } from '../../src/systems/types.js';
import { systemLabel } from '../../src/report/summary.js';
import { runInProcess, tempDir } from '../experiment/helpers.js';
import { kafkaOptionsFromEnv, natsOptionsFromEnv, redisOptionsFromEnv, requireEnv, s3OptionsFromEnv } from './kv-helpers.js';
import { clickhouseOptionsFromEnv, mariadbOptionsFromEnv, pgOptionsFromEnv } from './sql-helpers.js';

export const LOCAL_SYSTEMS: Record<string, () => Record<string, unknown>> = {
  postgresql: pgOptionsFromEnv,
  mariadb: mariadbOptionsFromEnv,
  clickhouse: clickhouseOptionsFromEnv,
  redis: redisOptionsFromEnv,
  kafka: kafkaOptionsFromEnv,
  minio: () => ({ ...s3OptionsFromEnv(), dataDir: requireEnv('DEDUP_LAB_S3_DATA_DIR'), seaweedfsMasterUrl: requireEnv('DEDUP_LAB_S3_MASTER_URL') }),
  nats: natsOptionsFromEnv,
};

const EDR_STAGES: readonly StageName[] = ['bulk_insert', 'compaction', 'perfile_insert'];
const SPACE_STAGES: readonly StageName[] = ['perfile_delete', 'maintenance'];

/** The physical layer of a record: storage when it has a storage probe (not log-only), else memory. */
function physicalLayerOf(record: StageRecord): ProbeLayer {
  const headlineable = record.probes.filter((probe) => probe.scope !== 'log');
  return headlineable.some((probe) => probe.layer === 'storage') ? 'storage' : 'memory';
}

/** The record's headline probe, checked to be of the physical layer and lab-scoped wherever the system can name its files. */
function headlineProbe(record: StageRecord): ProbeResult {
  const layer = physicalLayerOf(record);
  const headline = record.probes.find((probe) => probe.name === record.primaryProbe);
  const where = `${record.cellId} ${record.stage}`;
  assert.ok(headline, `${where}: primary probe ${record.primaryProbe} not among ${record.probes.map((probe) => probe.name).join(', ')}`);
  assert.equal(headline.layer, layer, `${where}: headline ${headline.name} is ${headline.layer}, the physical layer is ${layer}`);
  assert.equal(record.primaryLayer, layer, `${where}: primaryLayer`);
  if (record.probes.some((probe) => probe.layer === layer && probe.scope === 'lab')) assert.equal(headline.scope, 'lab', `${where}: the headline is the lab-scoped probe, not ${headline.name} (${headline.scope})`);
  return headline;
}

const mean = (values: readonly number[]): number | null => (values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length);

function assertClose(actual: number | null, expected: number | null, what: string): void {
  if (expected === null || actual === null) return assert.equal(actual, expected, what);
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${actual} ≠ ${expected}`);
}

/** A stage that ran and was probed (a not-applicable stage carries no reading). */
const measured = (record: StageRecord): boolean => record.edrFlag.status !== 'not-applicable' || record.probes.some((probe) => probe.after !== null);

/** Each record's own headline numbers are its headline probe's (the record carries no number of its own). */
function assertRecordFromHeadline(record: StageRecord): void {
  const headline = headlineProbe(record);
  const where = `${record.cellId} ${record.stage}`;
  if (EDR_STAGES.includes(record.stage)) assert.equal(record.edr, headline.edr, `${where}: edr`);
  if (SPACE_STAGES.includes(record.stage)) {
    assert.equal(record.reclaimedBytes, headline.reclaimedBytes, `${where}: reclaimedBytes`);
    assert.equal(record.residualBytes, headline.residualBytes, `${where}: residualBytes`);
    assert.equal(record.returned ?? null, headline.reclaimedBytes, `${where}: returned = the storage probe's reclaimed bytes`);
    const systemReclaimed = record.probes.filter((probe) => probe.layer === 'system').map((probe) => probe.reclaimedBytes);
    if (record.freedInside !== null && record.freedInside !== undefined) assert.ok(systemReclaimed.includes(record.freedInside), `${where}: freedInside ${record.freedInside} is a system-layer probe's (${systemReclaimed.join(', ')})`);
  }
}

/** Mean headline EDR after a stage of one grade (implausible ones left out, as the table does). */
function headlineEdr(records: readonly StageRecord[], grade: string, stage: StageName): number | null {
  const edrs = records.filter((record) => record.grade === grade && record.stage === stage && measured(record) && record.edrFlag.status !== 'implausible').map((record) => headlineProbe(record).edr);
  return mean(edrs.filter((edr): edr is number => edr !== null));
}

/** Returned shares recomputed from the headline probes of the delete and maintenance records. */
function returnedShares(records: readonly StageRecord[]): { byDelete: number | null; afterMaintenance: number | null } {
  const byDelete: number[] = [];
  const afterMaintenance: number[] = [];
  for (const remove of records.filter((record) => record.stage === 'perfile_delete' && measured(record))) {
    const probe = headlineProbe(remove);
    if (probe.reclaimedBytes === null || probe.residualBytes === null || !(probe.reclaimedBytes + probe.residualBytes > 0)) continue;
    const stored = probe.reclaimedBytes + probe.residualBytes;
    byDelete.push(probe.reclaimedBytes / stored);
    const maintenance = records.find((record) => record.stage === 'maintenance' && record.cellId === remove.cellId && measured(record));
    const residual = maintenance ? headlineProbe(maintenance).residualBytes : null;
    if (residual !== null) afterMaintenance.push(1 - residual / stored);
  }
  return { byDelete: mean(byDelete), afterMaintenance: mean(afterMaintenance) };
}

function rowRecords(records: readonly StageRecord[], verdict: DedupVerdict): StageRecord[] {
  return records.filter((record) => systemLabel(record) === verdict.system && record.variant === verdict.variant && record.mode === verdict.mode && record.payloadType === verdict.payloadType);
}

/** The EDRs, verdict and returned shares of a row, each from the headline probes. */
function assertRowFromStorage(verdict: DedupVerdict, list: readonly StageRecord[]): void {
  const row = `${verdict.system} ${verdict.variant}`;
  assert.equal(verdict.layer, physicalLayerOf(list.find((record) => record.stage === 'bulk_insert') ?? (list[0] as StageRecord)), `${row}: layer column`);
  for (const grade of verdict.grades) {
    assertClose(grade.ingest, headlineEdr(list, grade.grade, 'bulk_insert'), `${row} ${grade.grade} ingest EDR`);
    assertClose(grade.atRest, headlineEdr(list, grade.grade, 'compaction') ?? headlineEdr(list, grade.grade, 'bulk_insert'), `${row} ${grade.grade} at-rest EDR`);
  }
  const base = verdict.grades.find((grade) => Math.abs(grade.ideal - 1) < 1e-9);
  const top = [...verdict.grades].reverse().find((grade) => grade.atRest !== null && grade.ideal >= MIN_JUDGEABLE_IDEAL);
  const expected = physicalVerdict(verdictText(top ? dedupShare(top.ingest, base?.ingest ?? null, top.ideal) : null, top ? dedupShare(top.atRest, base?.atRest ?? null, top.ideal) : null, base?.atRest ?? null), verdict.layer);
  assert.equal(verdict.verdict, expected, `${row}: verdict`);
  const returned = returnedShares(list);
  assertClose(verdict.returned.byDelete, returned.byDelete, `${row}: returned by the deletes`);
  assertClose(verdict.returned.afterMaintenance, returned.afterMaintenance, `${row}: returned after maintenance`);
}

/** The judged grade's at-rest record: where the row's layer comparison is made. */
function judgedRecord(verdict: DedupVerdict, list: readonly StageRecord[]): StageRecord | undefined {
  const top = [...verdict.grades].reverse().find((grade) => grade.atRest !== null && grade.ideal >= MIN_JUDGEABLE_IDEAL);
  const ofGrade = list.filter((record) => record.grade === top?.grade);
  return ofGrade.find((record) => record.stage === 'compaction' && record.edrFlag.status !== 'not-applicable') ?? ofGrade.find((record) => record.stage === 'bulk_insert');
}

const differs = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)) > 0.1;

/** Where every probe of another layer is > 10 % off the headline, the rendered row names that layer with both numbers and a reason; where none is, it does not. */
function assertGapsShown(verdict: DedupVerdict, list: readonly StageRecord[], renderedRow: string): number {
  const record = judgedRecord(verdict, list);
  const headline = record ? headlineProbe(record) : null;
  if (!record || !headline || headline.edr === null) return 0;
  let shown = 0;
  for (const layer of ['storage', 'memory', 'system', 'logical'] as const) {
    const others = record.probes.filter((probe) => probe.layer === layer && probe.scope !== 'log' && probe.name !== headline.name && probe.edr !== null);
    if (layer === headline.layer || others.length === 0) continue;
    const gap: string | undefined = verdict.layerGaps.find((text) => new RegExp(`\\b${layer} [0-9.]+×`).test(text));
    const what: string = `${verdict.system} ${verdict.variant} (${record.grade} ${record.stage}), ${layer} ${others.map((probe) => `${probe.name} ${probe.edr}`).join(', ')} vs ${headline.name} ${headline.edr}`;
    if (others.every((probe) => differs(probe.edr as number, headline.edr as number))) {
      assert.ok(gap, `${what}: the row must show the gap; gaps: ${JSON.stringify(verdict.layerGaps)}`);
      assert.ok(gap.includes(`${(headline.edr as number).toFixed(2)}×`) && others.some((probe) => gap.includes(`${(probe.edr as number).toFixed(2)}×`)), `${what}: both numbers in "${gap}"`);
      assert.match(gap, /×[^:]*\): \S.{10,}/, `${what}: a reason in "${gap}"`);
      assert.ok(renderedRow.includes(`layers differ: `) && renderedRow.includes(gap), `${what}: the rendered row shows it: ${renderedRow}`);
      shown += 1;
    } else if (others.every((probe) => !differs(probe.edr as number, headline.edr as number))) {
      assert.equal(gap, undefined, `${what}: no gap to show, yet the row says "${gap}"`);
    }
  }
  return shown;
}

/** Every record's and every answer row's headline numbers from the storage layer; returns the rows as rendered. */
export function assertAnswerAgreesWithStorage(all: readonly StageRecord[], ids: readonly string[], log: (line: string) => void): void {
  const records = all.filter((record) => !record.error);
  for (const record of records.filter(measured)) assertRecordFromHeadline(record);
  const verdicts = dedupVerdicts(records);
  const cells = verdictCells(records);
  assert.ok(cells);
  assert.deepEqual([...new Set(verdicts.map((verdict) => verdict.system.split('/')[0]))].sort(), [...ids].sort(), 'a row for every service');
  assert.equal(verdicts.length, cells.rows.length);
  verdicts.forEach((verdict, index) => {
    const list = rowRecords(records, verdict);
    assert.ok(list.length > 0, `records of ${verdict.system} ${verdict.variant}`);
    assertRowFromStorage(verdict, list);
    const rendered = (cells.rows[index] as string[]).join(' | ');
    assertGapsShown(verdict, list, rendered);
    log(rendered);
  });
}

/** The small matrix over the given local services, every variant, U0/U90. */
export async function runLocalMatrix(ids: readonly string[], t: TestContext): Promise<StageRecord[]> {
  const dir = tempDir('answer-storage');
  try {
    const config = parseConfig({ labName: 'dedup_answer', systems: ids.map((id) => ({ id, options: LOCAL_SYSTEMS[id]?.() })), run: { reclaimWindowS: 5 } });
    const started = Date.now();
    const run = await runInProcess({ config, cli: { systems: ids.join(','), payloadTypes: 'random_binary', grades: 'U0,U90', files: '20', fileSize: '16KiB' }, dataDir: join(dir, 'data'), resultsDir: join(dir, 'results') });
    t.diagnostic(`matrix ${ids.join(', ')}: ${run.records.length} records in ${Math.round((Date.now() - started) / 1000)} s`);
    assert.deepEqual(run.summary.failedCells, []);
    return run.records;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
