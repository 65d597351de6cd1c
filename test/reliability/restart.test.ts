/**
 * Issue 14 #2 and #3 against every server system (SPEC §13): the server is killed with SIGKILL
 * during bulk_insert and again during perfile_insert and restarted through scripts/services.sh;
 * then it is stopped with SIGSTOP mid-stage and continued after the attempt timed out. Both runs
 * must end with every cell complete and exactly the stage lines of an uninterrupted run.
 * Run under the servers lock: flock /tmp/dedup-lab-servers.lock bash scripts/test.sh test/reliability/restart.test.ts
 * (DEDUP_LAB_FAULT_SYSTEMS=postgresql,redis narrows it).
 */
import { after, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { runExperiment, type RunSummary } from '../../src/experiment/runner.js';
import { resolveRunSetup } from '../../src/experiment/setup.js';
import { readRecords } from '../../src/experiment/results.js';
import type { RunProgress } from '../../src/cli/progress.js';
import type { StageRecord } from '../../src/experiment/record.js';
import { silentProgress, stageKeys, tempDir } from '../experiment/helpers.js';
import { faultSystems, restoreServer, serviceUp, signalServer, type ServerSystem } from './faults.js';

const DATA = { payloadTypes: 'random_binary', grades: 'U50', files: '60', minSize: '16KiB', maxSize: '16KiB', stages: 'bulk_insert,perfile_insert' };
/** Short for the SIGSTOP test; the kill test keeps 30 s, as SeaweedFS needs many seconds after a restart before it answers S3 requests. */
const OPERATION_TIMEOUT_S = 4;
const KILL_TEST_TIMEOUT_S = 30;

const root = tempDir('faults');
after(() => {
  rmSync(root, { recursive: true, force: true });
  // Clients abandoned by timed-out operations (hung sockets of a stopped server) can keep this
  // file's process alive after every test reported; never let that hold the servers lock in CI.
  setTimeout(() => process.exit(), 10_000).unref();
});

interface FaultRun {
  summary: RunSummary;
  records: StageRecord[];
  notes: string[];
}

/** The real runner on the real server; `onStage` may inject a fault when a stage starts. */
async function runWith(system: ServerSystem, name: string, onStage: (stage: string, notes: string[]) => void = () => {}, timeoutSeconds = OPERATION_TIMEOUT_S): Promise<FaultRun> {
  const config = parseConfig({
    labName: `dedup_lab_faults_${system.id}`,
    systems: [{ id: system.id, options: { ...system.options(), operationTimeoutSeconds: timeoutSeconds } }],
  });
  const resultsDir = join(root, `${system.id}-${name}`);
  const setup = await resolveRunSetup({ dataDir: join(root, 'data'), systems: system.id, ...DATA }, config);
  const notes: string[] = [];
  const progress: RunProgress = { ...silentProgress, stageStart: (_cell, stage) => onStage(stage, notes), note: (message) => notes.push(message) };
  const summary = await runExperiment({
    config, targets: setup.targets, plan: setup.plan, datasets: setup.datasets, dataDir: setup.dataDir, resultsDir,
    fresh: false, repeat: [], maxRetries: 3, keepLab: false, traceIntervalMs: 1000, signal: new AbortController().signal,
    progress, argv: [], backoff: { baseMs: 500, maxMs: 2000 },
  });
  return { summary, records: readRecords(resultsDir), notes };
}

function assertSameAsUninterrupted(faulted: FaultRun, clean: FaultRun, system: ServerSystem): void {
  assert.deepEqual(faulted.summary.failedCells, [], `no failed cell; notes: ${faulted.notes.join(' | ')}`);
  assert.equal(faulted.summary.completedCells, clean.summary.completedCells);
  const keys = stageKeys(faulted.records);
  assert.deepEqual(keys, stageKeys(clean.records), 'exactly the stage lines of an uninterrupted run');
  assert.equal(new Set(keys).size, keys.length, 'no duplicated result line');
  assert.ok(faulted.records.every((record) => record.error === null), 'every kept line is a successful stage');
  if (!system.deterministic) return;
  for (const record of faulted.records) {
    const twin = clean.records.find((other) => other.cellId === record.cellId && other.stage === record.stage);
    assert.ok(record.edr !== null && twin?.edr != null, `${record.stage}: both runs have an EDR`);
    assert.ok(Math.abs(record.edr - twin.edr) / twin.edr < 0.05, `${record.stage}: EDR ${record.edr} vs uninterrupted ${twin.edr} (within 5 %)`);
  }
}

for (const system of faultSystems()) {
  describe(`${system.id}: server faults mid-stage`, () => {
    let clean: FaultRun;
    after(() => restoreServer(system.service));
    // Every test starts (and the suite ends) with the server running and answering.
    beforeEach(() => restoreServer(system.service));

    it('uninterrupted run (the reference)', async () => {
      clean = await runWith(system, 'clean');
      assert.deepEqual(clean.summary.failedCells, []);
    });

    it('SIGKILL during bulk_insert and during perfile_insert, restart via services.sh: same cells, same lines', async () => {
      const killedAt: string[] = [];
      let restarting: Promise<void> = Promise.resolve();
      let restartError: unknown = null;
      const faulted = await runWith(system, 'killed', (stage) => {
        if (killedAt.includes(stage) || !['bulk_insert', 'perfile_insert'].includes(stage)) return;
        killedAt.push(stage);
        restarting = restarting
          .then(async () => {
            await signalServer(system.service, 'SIGKILL');
            await serviceUp(system.service);
          })
          .catch((error: unknown) => {
            restartError ??= error;
          });
      }, KILL_TEST_TIMEOUT_S);
      await restarting;
      assert.equal(restartError, null, 'the server was killed and restarted');
      assert.deepEqual(killedAt, ['bulk_insert', 'perfile_insert']);
      // The kill is sent when a stage starts; a fast system (Redis loads 60 small files in a few ms)
      // can finish that stage before SIGKILL lands, and the kill then hits the next operation. So at
      // least one attempt must have failed, and the lines must equal an uninterrupted run's.
      if (!system.reconnectsItself) assert.ok(faulted.notes.filter((note) => /attempt \d failed/.test(note)).length >= 1, `a kill cost an attempt: ${faulted.notes.join(' | ')}`);
      assertSameAsUninterrupted(faulted, clean, system);
    });

    it(`SIGSTOP mid-stage: the attempt fails within ${OPERATION_TIMEOUT_S} s naming system and operation, after SIGCONT the retry succeeds`, async () => {
      let stopped = false;
      let continued: Promise<unknown> = Promise.resolve();
      const startedAt = performance.now();
      const faulted = await runWith(system, 'stopped', (stage, notes) => {
        if (stopped || stage !== 'bulk_insert') return;
        stopped = true;
        continued = (async () => {
          await signalServer(system.service, 'SIGSTOP');
          // Continue the server once the hung attempt has failed (or after a bound, so nothing hangs).
          const deadline = performance.now() + 120_000;
          while (!notes.some((note) => /attempt 1 failed/.test(note)) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
          await signalServer(system.service, 'SIGCONT');
        })().catch((error: unknown) => error);
      });
      assert.equal(await continued, undefined, 'the server was stopped and continued');
      const failure = faulted.notes.find((note) => /attempt 1 failed/.test(note)) ?? '';
      assert.match(failure, new RegExp(`${system.id}: [a-zA-Z ()0-9]+ got no answer within ${OPERATION_TIMEOUT_S} s`), 'the error names the system and the operation');
      assert.ok(performance.now() - startedAt < 240_000, 'the run did not hang');
      assertSameAsUninterrupted(faulted, clean, system);
    });
  });
}
