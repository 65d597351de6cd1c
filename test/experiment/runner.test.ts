/**
 * The runner against the real sqlite adapter: result files, checkpoints, resume, --fresh,
 * --repeat, retries after a failing stage, and a failing system not stopping the others.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiment/runner.js';
import { resolveRunSetup } from '../../src/experiment/setup.js';
import { readCheckpoints, readRecords } from '../../src/experiment/results.js';
import type { SystemDefinition, SystemAdapter } from '../../src/systems/types.js';
import { embeddedConfig, runInProcess, silentProgress, stageKeys, tempDir } from './helpers.js';

const SMALL = { payloadTypes: 'random_binary', grades: 'U0,U50', files: '12', minSize: '4KiB', maxSize: '16KiB' };

/** The real definition with some adapter methods replaced: fault injection around the real adapter. */
function withFaults(real: SystemDefinition, overrides: (original: SystemAdapter) => Partial<SystemAdapter>): SystemDefinition {
  return {
    ...real,
    create(instance, options, labName) {
      const adapter = real.create(instance, options, labName);
      const prototype = Object.getPrototypeOf(adapter) as Record<PropertyKey, unknown>;
      const self = Object.assign(Object.create(prototype) as SystemAdapter, adapter);
      // `original` calls the real methods on the same instance, whatever `overrides` replaced.
      const original = new Proxy(self, {
        get: (target, property) => {
          const method = prototype[property];
          return typeof method === 'function' ? method.bind(self) : Reflect.get(target, property);
        },
      });
      return Object.assign(self, overrides(original));
    },
  };
}

describe('runner with the real sqlite adapter', () => {
  const root = tempDir('runner');
  const dataDir = join(root, 'data');
  const config = embeddedConfig(join(root, 'lab'), ['sqlite']);
  const smallSetup = async (stages?: string) => {
    const setup = await resolveRunSetup({ ...SMALL, grades: 'U0', systems: 'sqlite', dataDir, ...(stages ? { stages } : {}) }, config);
    const target = setup.targets[0];
    assert.ok(target);
    return { ...setup, target };
  };
  const runWith = (setup: Awaited<ReturnType<typeof smallSetup>>, definition: SystemDefinition, resultsDir: string, maxRetries: number) =>
    runExperiment({
      config, targets: [{ ...setup.target, definition }], plan: setup.plan, datasets: setup.datasets, dataDir, resultsDir,
      fresh: false, repeat: [], maxRetries, keepLab: false, traceIntervalMs: 1000, signal: new AbortController().signal,
      progress: silentProgress, argv: [], backoff: { baseMs: 1, maxMs: 2 },
    });

  it('writes every stage of every cell, checkpoints, environment and trace', async () => {
    const resultsDir = join(root, 'results-a');
    const { summary, records } = await runInProcess({ config, cli: { systems: 'sqlite', ...SMALL }, dataDir, resultsDir });
    assert.equal(summary.failedCells.length, 0);
    assert.equal(summary.completedCells, 2);
    assert.deepEqual(stageKeys(records), stageKeys(records).filter((key, index, all) => all.indexOf(key) === index), 'no duplicate lines');
    assert.equal(records.length, 2 * 5);
    assert.deepEqual(readdirSync(join(resultsDir, 'checkpoints')).sort(), ['sqlite.default.blob.random_binary.U0.r1.json', 'sqlite.default.blob.random_binary.U50.r1.json']);
    for (const file of ['results.jsonl', 'environment.json', 'trace.jsonl']) assert.ok(existsSync(join(resultsDir, file)), file);
    const environment = JSON.parse(readFileSync(join(resultsDir, 'environment.json'), 'utf8'));
    assert.match(environment.systems[0].version, /SQLite 3\./);
    assert.equal(environment.node, process.version);

    const manifest = JSON.parse(readFileSync(join(dataDir, 'random_binary', 'U50', 'manifest.json'), 'utf8'));
    const bulk = records.find((record) => record.grade === 'U50' && record.stage === 'bulk_insert');
    assert.ok(bulk);
    assert.equal(bulk.logicalBytes, manifest.totals.logicalBytes, 'logical bytes come from the manifest sizes of acknowledged files');
    assert.equal(bulk.files, 12);
    assert.equal(bulk.idealEdr, manifest.totals.idealEdr);
    assert.deepEqual(bulk.probes.map((probe) => probe.name).sort(), ['dbstat', 'fs', 'internal', 'lab_fs', 'log_fs']);
    assert.deepEqual(Object.fromEntries(bulk.probes.map((probe) => [probe.name, probe.layer])), { internal: 'system', dbstat: 'system', lab_fs: 'storage', log_fs: 'storage', fs: 'storage' });
    // The physical layer decides (SPEC §6.2): the lab's own database file, not the whole data dir and never the WAL alone.
    assert.equal(bulk.primaryProbe, 'lab_fs');
    assert.equal(bulk.primaryLayer, 'storage');
    assert.ok(bulk.probes.some((probe) => probe.name === 'fs'), 'the fs probe is added from localDataPaths()');
    assert.ok(bulk.probes.every((probe) => probe.settled), 'embedded probes settle');
    const perfile = records.find((record) => record.grade === 'U50' && record.stage === 'perfile_insert');
    assert.equal(perfile?.latencyUs?.count, 12);
    assert.ok((perfile?.latencyUs?.p50 ?? 0) > 0);
    const deleted = records.find((record) => record.grade === 'U50' && record.stage === 'perfile_delete');
    assert.equal(deleted?.storedLogicalBytes, 0);
    assert.equal(deleted?.logicalBytes, manifest.totals.logicalBytes);
    assert.equal(deleted?.edr, null);
    const trace = readFileSync(join(resultsDir, 'trace.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.equal(trace.filter((event) => event.kind === 'stage_end').length, 10);
  });

  it('resumes by default, --fresh redoes every cell, --repeat one system, all without duplicate lines', async () => {
    const resultsDir = join(root, 'results-b');
    const cli = { systems: 'sqlite', ...SMALL };
    const first = await runInProcess({ config, cli, dataDir, resultsDir });
    const firstRun = first.summary.runId;
    const resumed = await runInProcess({ config, cli, dataDir, resultsDir });
    assert.equal(resumed.summary.skippedCells, 2);
    assert.equal(resumed.summary.completedCells, 0);
    assert.deepEqual(resumed.records, first.records, 'a resume with nothing to do changes nothing');

    const fresh = await runInProcess({ config, cli, dataDir, resultsDir, fresh: true });
    assert.equal(fresh.summary.completedCells, 2);
    assert.deepEqual(stageKeys(fresh.records), stageKeys(first.records));
    assert.ok(fresh.records.every((record) => record.runId === fresh.summary.runId), 'old lines of redone cells are gone');
    assert.notEqual(fresh.summary.runId, firstRun);

    const changed = await runInProcess({ config, cli: { ...cli, files: '13' }, dataDir, resultsDir });
    assert.equal(changed.summary.completedCells, 2, 'changed data-set parameters redo the complete cells');
    assert.ok(changed.records.every((record) => record.runId === changed.summary.runId && (record.stage === 'compaction' || record.stage === 'maintenance' || record.files === 13)));

    const repeated = await runInProcess({ config, cli, dataDir, resultsDir, repeat: ['sqlite'] });
    assert.equal(repeated.summary.completedCells, 2);
    assert.deepEqual(stageKeys(repeated.records), stageKeys(first.records));
    assert.equal([...readCheckpoints(resultsDir).values()].filter((checkpoint) => checkpoint.runId === repeated.summary.runId).length, 2);
  });

  it('a failing instance does not stop the others; its cells are recorded failed', async () => {
    const resultsDir = join(root, 'results-c');
    const blocker = join(root, 'not-a-dir');
    writeFileSync(blocker, 'a file where a folder should be');
    const mixed = parseConfig({
      systems: [
        { id: 'sqlite', instance: 'broken', options: { dataDir: join(blocker, 'lab') } },
        { id: 'sqlite', instance: 'good', options: { dataDir: join(root, 'lab-good') } },
      ],
      run: { maxRetries: 1 },
    });
    const { summary, records } = await runInProcess({ config: mixed, cli: { ...SMALL, grades: 'U0' }, dataDir, resultsDir });
    assert.deepEqual(summary.unreachable, ['broken']);
    assert.deepEqual(summary.reachable, ['good']);
    assert.deepEqual(summary.failedCells.map((cell) => cell.cellId), ['sqlite@broken.default.blob.random_binary.U0.r1']);
    assert.match(summary.failedCells[0]?.error ?? '', /cannot connect/);
    assert.equal(records.filter((record) => record.instance === 'good').length, 5);
    assert.equal(readCheckpoints(resultsDir).get('sqlite@broken.default.blob.random_binary.U0.r1')?.status, 'failed');
  });

  it('retries a cell after a failed stage (reconnect, reset) and keeps only the final attempt’s lines', async () => {
    const resultsDir = join(root, 'results-d');
    const setup = await smallSetup();
    let compactCalls = 0;
    let connects = 0;
    // The first compaction fails as a lost connection would.
    const flaky = withFaults(setup.target.definition, (original) => ({
      compact: async (cell) => {
        compactCalls += 1;
        if (compactCalls === 1) throw new Error('connection reset by peer');
        return original.compact(cell);
      },
      connect: async () => {
        connects += 1;
        return original.connect();
      },
    }));
    const summary = await runWith(setup, flaky, resultsDir, 2);
    assert.equal(summary.failedCells.length, 0);
    assert.equal(connects, 2, 'reconnected before the retry');
    const records = readRecords(resultsDir);
    assert.deepEqual(records.map((record) => `${record.attempt}/${record.stage}`), ['2/bulk_insert', '2/compaction', '2/perfile_insert', '2/perfile_delete', '2/maintenance']);
    assert.equal(readCheckpoints(resultsDir).get('sqlite.default.blob.random_binary.U0.r1')?.attempt, 2);
  });

  it('gives up after --max-retries and records the cell as failed with its error', async () => {
    const resultsDir = join(root, 'results-e');
    const setup = await smallSetup();
    const broken = withFaults(setup.target.definition, () => ({
      compact: async () => {
        throw new Error('disk full');
      },
    }));
    const summary = await runWith(setup, broken, resultsDir, 1);
    assert.equal(summary.failedCells.length, 1);
    assert.match(summary.failedCells[0]?.error ?? '', /compaction: disk full/);
    const records = readRecords(resultsDir);
    assert.deepEqual(records.map((record) => `${record.attempt}/${record.stage}`), ['2/bulk_insert', '2/compaction'], 'the final attempt’s lines are kept, the failing stage recorded with its error');
    assert.equal(records[1]?.error?.message, 'disk full');
    assert.equal(records[1]?.edr, null);
    const checkpoint = readCheckpoints(resultsDir).get('sqlite.default.blob.random_binary.U0.r1');
    assert.equal(checkpoint?.status, 'failed');
    assert.equal(checkpoint?.error?.kind, 'stage_failed');
  });

  it('flags every later result of a probe that does not shrink after the mid-cell reset', async () => {
    const resultsDir = join(root, 'results-f');
    const setup = await smallSetup();
    let highest = 0;
    // A block-storage style metric: a high-water mark (of 16× the file size, so the growth clearly
    // exceeds the 1 MiB tolerance on this small data) that never goes down after a reset.
    const highWater = withFaults(setup.target.definition, (original) => ({
      probes: (cell) => {
        const internal = original.probes(cell).find((probe) => probe.name === 'internal');
        assert.ok(internal);
        const blockstore = {
          ...internal,
          name: 'blockstore',
          read: async () => {
            const reading = await internal.read();
            highest = Math.max(highest, (reading.bytes ?? 0) * 16);
            return { bytes: highest };
          },
        };
        return [internal, blockstore];
      },
    }));
    await runWith(setup, highWater, resultsDir, 0);
    const records = readRecords(resultsDir);
    const probeOf = (stage: string, name: string) => records.find((record) => record.stage === stage)?.probes.find((probe) => probe.name === name);
    assert.equal(probeOf('bulk_insert', 'blockstore')?.edrFlag.status, 'ok', 'before the reset the metric looks fine');
    for (const stage of ['perfile_insert', 'perfile_delete', 'maintenance']) {
      const flagged = probeOf(stage, 'blockstore');
      assert.equal(flagged?.edrFlag.status, 'unmeasurable', stage);
      assert.match(flagged?.edrFlag.reason ?? '', /probe did not shrink after reset/);
      assert.equal(flagged?.edr, null);
      assert.notEqual(probeOf(stage, 'internal')?.edrFlag.status, 'unmeasurable', `${stage}: the honest probe is not flagged`);
    }
    assert.equal(records.find((record) => record.stage === 'perfile_insert')?.edrFlag.status, 'ok', 'the primary (internal) EDR stays valid');
  });

  it('a write the system refuses is never counted: logical bytes and throughput come from acknowledged files only', async () => {
    const resultsDir = join(root, 'results-g');
    const setup = await smallSetup('perfile_insert');
    const refusing = withFaults(setup.target.definition, (original) => ({
      insertOne: async (file, cell) => {
        if (file.id === 3) throw new Error('value too large');
        return original.insertOne(file, cell);
      },
    }));
    const summary = await runWith(setup, refusing, resultsDir, 0);
    assert.equal(summary.failedCells.length, 1);
    const manifest = JSON.parse(readFileSync(join(dataDir, 'random_binary', 'U0', 'manifest.json'), 'utf8'));
    const refused = manifest.entries[3].size as number;
    const [record] = readRecords(resultsDir);
    assert.ok(record);
    assert.equal(record.stage, 'perfile_insert');
    assert.equal(record.files, 11);
    assert.equal(record.logicalBytes, manifest.totals.logicalBytes - refused);
    assert.equal(record.storedLogicalBytes, manifest.totals.logicalBytes - refused);
    assert.equal(record.latencyUs?.count, 11);
    assert.ok(record.throughputBytesPerSec !== null && Math.abs(record.throughputBytesPerSec - record.logicalBytes / (record.durationMs / 1000)) < 1e-6);
    assert.deepEqual(record.error, { kind: 'write_failed', message: '1 of 12 writes failed; first (file 3): value too large' });
  });

  it('native mode runs typed records; native on a mixed set is recorded as not applicable', async () => {
    const resultsDir = join(root, 'results-h');
    const { summary, records } = await runInProcess({ config, cli: { systems: 'sqlite', mode: 'native', payloadTypes: 'bank_transactions,mixed', grades: 'U50', files: '8', minSize: '4KiB', maxSize: '8KiB' }, dataDir, resultsDir });
    assert.deepEqual(summary.failedCells, []);
    const bank = records.filter((record) => record.payloadType === 'bank_transactions');
    assert.equal(bank.length, 5);
    assert.ok(bank.every((record) => record.mode === 'native' && record.error === null));
    assert.equal(bank.find((record) => record.stage === 'bulk_insert')?.files, 8);
    const mixed = records.filter((record) => record.payloadType === 'mixed');
    assert.equal(mixed.length, 5);
    assert.ok(mixed.every((record) => record.edrFlag.status === 'not-applicable' && /mixed/.test(record.edrFlag.reason ?? '') && record.edr === null && record.files === 0));
  });

  it('a primary probe the system does not have is refused before anything is written (SPEC §13)', async () => {
    const resultsDir = join(root, 'results-i');
    const wrongPrimary = parseConfig({ systems: [{ id: 'sqlite', options: { dataDir: join(root, 'lab-i') }, probes: { primary: 'prometheus' } }] });
    await assert.rejects(
      runInProcess({ config: wrongPrimary, cli: { systems: 'sqlite', ...SMALL, grades: 'U0', stages: 'bulk_insert' }, dataDir, resultsDir }),
      /unknown probes\.primary "prometheus" for system sqlite; valid: internal, dbstat, lab_fs, log_fs, fs, storage$/,
    );
    assert.equal(existsSync(resultsDir), false, 'no results dir');
    assert.equal(existsSync(join(root, 'lab-i')), false, 'no lab files');
  });

  it('a failed redo (--fresh) keeps the earlier complete result of the cell', async () => {
    const resultsDir = join(root, 'results-j');
    const setup = await smallSetup('bulk_insert,compaction');
    const good = await runWith(setup, setup.target.definition, resultsDir, 0);
    assert.equal(good.failedCells.length, 0);
    const before = readRecords(resultsDir);
    const broken = withFaults(setup.target.definition, () => ({
      compact: async () => {
        throw new Error('disk full');
      },
    }));
    const redo = await runExperiment({
      config, targets: [{ ...setup.target, definition: broken }], plan: setup.plan, datasets: setup.datasets, dataDir, resultsDir,
      fresh: true, repeat: [], maxRetries: 0, keepLab: false, traceIntervalMs: 1000, signal: new AbortController().signal,
      progress: silentProgress, argv: [], backoff: { baseMs: 1, maxMs: 2 },
    });
    assert.equal(redo.failedCells.length, 1, 'the failure is reported');
    assert.equal(readCheckpoints(resultsDir).get('sqlite.default.blob.random_binary.U0.r1')?.runId, good.runId);
    assert.deepEqual(readRecords(resultsDir), before, 'the complete result and its lines are kept');
  });
});
