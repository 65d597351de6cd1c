/** Operation timeouts (src/systems/shared/timeouts.ts): the watchdog, option parsing, and the wrapper around a real sqlite adapter. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import { loadSystem } from '../../src/systems/registry.js';
import { OperationTimeoutError, splitTimeoutOptions, SYSTEM_TIMEOUTS, timeoutsFor, withOperationTimeouts, withWatchdog } from '../../src/systems/shared/timeouts.js';
import type { LabFile } from '../../src/systems/types.js';
import { tempDir } from '../experiment/helpers.js';
import { makeCell, makeLabFiles } from './fixtures.js';

const never = () => new Promise<never>(() => {});
const expiry = () => new Error('expired');

describe('withWatchdog', () => {
  it('passes a result through and rejects on expiry, aborting the signal it handed out', async () => {
    assert.equal(await withWatchdog(1000, expiry, async () => 7), 7);
    let seen: AbortSignal | undefined;
    await assert.rejects(withWatchdog(50, expiry, ({ signal }) => ((seen = signal), never())), /expired/);
    assert.equal(seen?.aborted, true);
  });

  it('touch restarts the countdown: steady progress never expires', async () => {
    const result = await withWatchdog(80, expiry, async ({ touch }) => {
      for (let step = 0; step < 6; step++) {
        await new Promise((resolve) => setTimeout(resolve, 40));
        touch();
      }
      return 'done';
    });
    assert.equal(result, 'done');
  });
});

describe('timeout options', () => {
  it('are split off every system’s own options and default per system', () => {
    assert.deepEqual(splitTimeoutOptions({ host: 'h', operationTimeoutSeconds: 5 }), { timeouts: { operationTimeoutSeconds: 5 }, rest: { host: 'h' } });
    assert.deepEqual(timeoutsFor('redis', {}), SYSTEM_TIMEOUTS.redis);
    assert.deepEqual(timeoutsFor('kafka', { maintenanceTimeoutSeconds: '120' }), { operationSeconds: 90, maintenanceSeconds: 120 });
    for (const id of ['postgresql', 'mariadb', 'clickhouse', 'redis', 'kafka', 'minio', 'nats']) assert.ok(SYSTEM_TIMEOUTS[id], id);
  });

  it('are validated by every system’s parseOptions (a usage error naming the field)', async () => {
    const postgresql = await loadSystem('postgresql');
    assert.throws(() => postgresql.parseOptions({ operationTimeoutSeconds: 0 }), (error: unknown) => error instanceof UsageError && /postgresql options: .*operationTimeoutSeconds/.test(error.message));
    assert.doesNotThrow(() => postgresql.parseOptions({ operationTimeoutSeconds: 3, maintenanceTimeoutSeconds: 600 }));
  });
});

describe('withOperationTimeouts around a real sqlite adapter', () => {
  const root = tempDir('timeouts');
  after(() => rmSync(root, { recursive: true, force: true }));

  it('works as the adapter does, and a hung operation fails naming instance and operation', async () => {
    const sqlite = await loadSystem('sqlite');
    const real = sqlite.create('sqlite', sqlite.parseOptions({ dataDir: join(root, 'lab') }), 'dedup_lab_timeouts');
    const adapter = withOperationTimeouts(real, { operationSeconds: 0.2, maintenanceSeconds: 0.2 });
    const cell = makeCell({ variant: 'default', mode: 'blob' });
    const files: LabFile[] = makeLabFiles({ count: 3, size: 1024, duplicates: {}, kind: 'random', seed: 't' });
    async function* stream() {
      yield* files;
    }
    await adapter.connect();
    try {
      await adapter.resetLab(cell);
      const outcome = await adapter.bulkInsert(stream(), cell);
      assert.deepEqual(outcome.acknowledged, [0, 1, 2]);
      assert.equal(await adapter.countStored(cell), 3);
      assert.deepEqual(adapter.probes(cell).map((probe) => probe.name), real.probes(cell).map((probe) => probe.name));
      // A file source that stops yielding is a stalled bulk load: bounded by the operation timeout.
      await adapter.resetLab(cell);
      async function* stalled() {
        yield files[0] as LabFile;
        await never();
      }
      await assert.rejects(adapter.bulkInsert(stalled(), cell), (error: unknown) => error instanceof OperationTimeoutError && /^sqlite: bulkInsert got no answer within 0\.2 s/.test(error.message));
    } finally {
      await adapter.dropLab();
      await adapter.close();
    }
  });
});
