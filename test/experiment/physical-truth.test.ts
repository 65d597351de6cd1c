/**
 * Physical truth on the real servers (issue 10 #6): the headline comes from the storage layer
 * (the lab-scoped `lab_fs` probe) and says what the disk really did, each server as it behaves
 * (docs/results.md, "Layers" and "Deferred reclamation"). Data: random 64 KiB files, so any
 * physical dedup is the system's own and compression cannot blur it.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { ProbeResult, StageRecord } from '../../src/experiment/record.js';
import type { StageName } from '../../src/systems/types.js';
import { kafkaOptionsFromEnv, natsOptionsFromEnv, requireEnv, s3OptionsFromEnv } from '../systems/kv-helpers.js';
import { clickhouseOptionsFromEnv, mariadbOptionsFromEnv, pgOptionsFromEnv } from '../systems/sql-helpers.js';
import { runInProcess, tempDir } from './helpers.js';

interface Case {
  system: string;
  variant: string;
  options: () => Record<string, unknown>;
  stages: string;
  grades: string;
}

async function runCase(spec: Case): Promise<StageRecord[]> {
  const dir = tempDir(`physical-${spec.system}`);
  try {
    const config = parseConfig({ labName: 'dedup_phys', systems: [{ id: spec.system, options: spec.options() }], run: { reclaimWindowS: 120 } });
    const run = await runInProcess({
      config,
      cli: { systems: spec.system, variants: `${spec.system}:${spec.variant}`, stages: spec.stages, payloadTypes: 'random_binary', grades: spec.grades, files: '40', fileSize: '64KiB' },
      dataDir: join(dir, 'data'),
      resultsDir: join(dir, 'results'),
    });
    assert.deepEqual(run.summary.failedCells, []);
    return run.records;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function recordOf(records: readonly StageRecord[], stage: StageName, grade?: string): StageRecord {
  const record = records.find((candidate) => candidate.stage === stage && (grade === undefined || candidate.grade === grade));
  assert.ok(record, `no ${stage} record`);
  return record;
}

function probeOf(record: StageRecord, name: string): ProbeResult {
  const probe = record.probes.find((candidate) => candidate.name === name);
  assert.ok(probe, `no ${name} probe in ${record.stage}: ${record.probes.map((p) => p.name).join(', ')}`);
  return probe;
}

/** What the per-file inserts added to the lab's files (storage layer). */
function grownOnDisk(records: readonly StageRecord[]): number {
  const probe = probeOf(recordOf(records, 'perfile_insert'), 'lab_fs');
  assert.ok(probe.after !== null && probe.baseline !== null);
  return probe.after - probe.baseline;
}

const DELETE_STAGES = 'perfile_insert,perfile_delete,maintenance';

describe('physical truth on the real servers', { timeout: 900_000 }, () => {
  it('S3 (SeaweedFS) by-content U90: content keys listed once, every overwrite on disk until the vacuum returns it', async (t) => {
    const options = () => ({ ...s3OptionsFromEnv(), dataDir: requireEnv('DEDUP_LAB_S3_DATA_DIR'), seaweedfsMasterUrl: requireEnv('DEDUP_LAB_S3_MASTER_URL') });
    const records = await runCase({ system: 'minio', variant: 'by-content', options, stages: DELETE_STAGES, grades: 'U90' });
    const inserted = recordOf(records, 'perfile_insert');
    t.diagnostic(`perfile_insert: primary ${inserted.primaryProbe} (${inserted.primaryLayer}) EDR ${inserted.edr?.toFixed(2)}, logical ${probeOf(inserted, 'internal').edr?.toFixed(2)}; gaps ${inserted.layerGaps?.join(' | ')}`);
    assert.equal(inserted.primaryProbe, 'lab_fs');
    assert.equal(inserted.primaryLayer, 'storage');
    assert.equal(probeOf(inserted, 'internal').layer, 'logical');
    assert.ok((probeOf(inserted, 'internal').edr ?? 0) > 5, 'the listing counts each content once');
    assert.ok(inserted.edr !== null && inserted.edr < 1.5, `every overwrite still on disk: storage EDR ${inserted.edr}`);
    assert.ok((inserted.layerGaps ?? []).some((gap) => gap.startsWith('logical')), 'the record explains the gap');
    const grown = grownOnDisk(records);
    const deleted = recordOf(records, 'perfile_delete');
    const vacuumed = recordOf(records, 'maintenance');
    const deletedOnDisk = probeOf(deleted, 'lab_fs');
    const atStageEnd = deleted.reclaimCurve?.[0]?.[1];
    t.diagnostic(`grown ${grown}; delete returned ${deleted.returned} (${deletedOnDisk.before === null || atStageEnd === undefined ? '?' : deletedOnDisk.before - atStageEnd} at the stage's end); vacuum returned ${vacuumed.returned}, residual ${vacuumed.residualBytes}; ${deleted.reclaimNote}`);
    // The deletes themselves free nothing: the disk right after them (the watch's first sample)
    // still holds what the inserts wrote.
    assert.ok(deletedOnDisk.before !== null && atStageEnd !== undefined, 'the watch sampled the disk after the deletes');
    assert.ok(deletedOnDisk.before - atStageEnd <= 0.1 * grown, `deletes return (almost) nothing: ${deletedOnDisk.before - atStageEnd} of ${grown} at the stage's end`);
    assert.ok(deleted.returned !== null && deleted.returned !== undefined);
    // The master's own sweep (every -master.vacuumIntervalSeconds, 840 s by default) can fall in
    // the 120 s watch after the deletes — then it, not the maintenance, gives the space back, and
    // the record's reclaim curve shows it after the first sample. Seen once in ≈ 20 runs.
    const sweptDuringWatch = deleted.returned > 0.1 * grown;
    const watchedLast = deleted.reclaimCurve?.at(-1)?.[1] ?? atStageEnd;
    if (sweptDuringWatch) assert.ok(watchedLast < atStageEnd - 0.1 * grown, `the space came back later in the watch: ${JSON.stringify(deleted.reclaimCurve)}`);
    assert.equal(vacuumed.edrFlag.status, 'not-applicable');
    // Observed: the vacuum returned 98 % in one run and 58 % in another (the rest came back later or
    // stayed in volumes the master did not compact in that call; docs/results.md). Asserted is what
    // held in every run: a vacuum (the maintenance's, or the master's own sweep during the watch),
    // not the delete, is what returns the space, most of it.
    const vacuumReturned = (vacuumed.returned ?? 0) + (sweptDuringWatch ? deleted.returned : 0);
    assert.ok(vacuumed.returned !== null && vacuumed.returned !== undefined && vacuumReturned >= 0.5 * grown, `a vacuum returns most of it: ${vacuumReturned} of ${grown}`);
    assert.ok(vacuumed.residualBytes !== null && vacuumed.residualBytes <= 0.5 * grown, `vacuum returns most of it: residual ${vacuumed.residualBytes} of ${grown}`);
  });

  it('ClickHouse per-file deletes: the disk keeps replaced parts until old_parts_lifetime, then returns them (timeToReclaimMs)', async (t) => {
    const records = await runCase({ system: 'clickhouse', variant: 'mergetree', options: clickhouseOptionsFromEnv, stages: 'perfile_insert,perfile_delete', grades: 'U0' });
    const deleted = recordOf(records, 'perfile_delete');
    const curve = deleted.reclaimCurve ?? [];
    const peak = Math.max(...curve.map(([, bytes]) => bytes));
    const last = curve.at(-1)?.[1] ?? NaN;
    t.diagnostic(`curve ${JSON.stringify(curve.filter((_, i) => i % 5 === 0))}; timeToReclaimMs ${deleted.timeToReclaimMs}; ${deleted.reclaimNote}`);
    assert.equal(deleted.primaryProbe, 'lab_fs');
    assert.match(deleted.reclaimNote ?? '', /old_parts_lifetime \d+ s \(system\.merge_tree_settings/);
    assert.ok(deleted.timeToReclaimMs !== null && deleted.timeToReclaimMs !== undefined && deleted.timeToReclaimMs > 0, `reclaimed after a while: ${deleted.timeToReclaimMs}`);
    assert.ok(peak > last + 64 * 1024, `the disk held replaced parts after the deletes (peak ${peak}, final ${last})`);
    const grown = grownOnDisk(records);
    assert.ok(deleted.residualBytes !== null && deleted.residualBytes <= 0.2 * grown, `returned in the end: residual ${deleted.residualBytes} of ${grown}`);
    // The system layer (active parts) gives it all back at once; the disk only after the lifetime.
    const activeGrown = probeOf(recordOf(records, 'perfile_insert'), 'internal');
    assert.ok(activeGrown.after !== null && activeGrown.baseline !== null);
    const activeBytes = activeGrown.after - activeGrown.baseline;
    assert.ok(deleted.freedInside !== null && deleted.freedInside !== undefined && deleted.freedInside >= 0.9 * activeBytes, `active parts shrink at once: ${deleted.freedInside} of ${activeBytes}`);
  });

  it('MariaDB default: a delete frees pages inside the .ibd but returns nothing to storage; OPTIMIZE returns it', async (t) => {
    const records = await runCase({ system: 'mariadb', variant: 'default', options: mariadbOptionsFromEnv, stages: DELETE_STAGES, grades: 'U0' });
    const grown = grownOnDisk(records);
    const deleted = recordOf(records, 'perfile_delete');
    const optimized = recordOf(records, 'maintenance');
    t.diagnostic(`grown ${grown}; delete freedInside ${deleted.freedInside} returned ${deleted.returned}; OPTIMIZE returned ${optimized.returned} residual ${optimized.residualBytes}`);
    assert.equal(deleted.primaryLayer, 'storage');
    assert.ok(deleted.freedInside !== null && deleted.freedInside !== undefined && deleted.freedInside >= 0.8 * grown, `DATA_LENGTH shrinks: ${deleted.freedInside}`);
    assert.ok(deleted.returned !== null && deleted.returned !== undefined && deleted.returned <= 0.1 * grown, `the .ibd keeps its size: ${deleted.returned}`);
    assert.ok(optimized.residualBytes !== null && optimized.residualBytes <= 0.2 * grown, `OPTIMIZE rebuilds the file: residual ${optimized.residualBytes}`);
  });

  it('PostgreSQL default: VACUUM FULL returns the lab relation files to storage', async (t) => {
    const records = await runCase({ system: 'postgresql', variant: 'default', options: pgOptionsFromEnv, stages: DELETE_STAGES, grades: 'U0' });
    const grown = grownOnDisk(records);
    const deleted = recordOf(records, 'perfile_delete');
    const vacuumed = recordOf(records, 'maintenance');
    t.diagnostic(`grown ${grown}; delete returned ${deleted.returned}; VACUUM FULL returned ${vacuumed.returned} residual ${vacuumed.residualBytes}; log_fs ${probeOf(vacuumed, 'log_fs').after}`);
    assert.equal(vacuumed.primaryProbe, 'lab_fs');
    assert.equal(probeOf(vacuumed, 'log_fs').scope, 'log');
    assert.ok(grown >= 0.9 * 40 * 64 * 1024, `the relation files hold the payload: ${grown}`);
    assert.ok(vacuumed.residualBytes !== null && vacuumed.residualBytes <= 0.1 * grown, `VACUUM FULL: residual ${vacuumed.residualBytes}`);
  });

  it('Kafka compact U90: after the cleaner (and file.delete.delay.ms) the partition directories hold about the unique bytes', async (t) => {
    const records = await runCase({ system: 'kafka', variant: 'compact', options: kafkaOptionsFromEnv, stages: 'bulk_insert,compaction', grades: 'U90' });
    const loaded = recordOf(records, 'bulk_insert');
    const compacted = recordOf(records, 'compaction');
    t.diagnostic(`bulk EDR ${loaded.edr?.toFixed(2)} → compaction EDR ${compacted.edr?.toFixed(2)} (ideal ${compacted.idealEdr.toFixed(2)}); ${compacted.reclaimNote}; timeToReclaimMs ${compacted.timeToReclaimMs}`);
    assert.equal(compacted.primaryProbe, 'lab_fs');
    assert.ok(loaded.edr !== null && loaded.edr < 1.5, `every copy on disk before compaction: ${loaded.edr}`);
    assert.ok(compacted.edr !== null && compacted.edr >= 0.7 * compacted.idealEdr, `compacted on disk: ${compacted.edr}`);
    assert.match(compacted.reclaimNote ?? '', /file\.delete\.delay\.ms/);
    assert.notEqual(compacted.timeToReclaimMs, null);
  });

  it('NATS msg-id U90: the stream directory holds about the unique bytes (duplicate ids rejected)', async (t) => {
    const records = await runCase({ system: 'nats', variant: 'msg-id', options: natsOptionsFromEnv, stages: 'bulk_insert', grades: 'U90' });
    const loaded = recordOf(records, 'bulk_insert');
    t.diagnostic(`lab_fs EDR ${loaded.edr?.toFixed(2)}, logical ${probeOf(loaded, 'internal').edr?.toFixed(2)}, ideal ${loaded.idealEdr.toFixed(2)}`);
    assert.equal(loaded.primaryProbe, 'lab_fs');
    assert.ok(loaded.edr !== null && loaded.edr >= 0.7 * loaded.idealEdr && loaded.edr <= 1.25 * loaded.idealEdr, `near the ideal: ${loaded.edr}`);
  });
});
