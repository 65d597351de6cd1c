/**
 * The chdb host process (src/systems/chdb-host.ts over shared/host-process.ts), on the real engine:
 * the library is loaded by the host, not by the dedup-lab process; a killed host is a lost
 * connection (pending and later calls reject naming its pid) and close() + connect() starts a
 * fresh host that still has the committed data; the host follows its parent out.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { acquireChdb, ChdbHostLostError, definition } from '../../src/systems/chdb.js';
import { iterate, makeCell, makeLabFiles } from './fixtures.js';
import { assertHostFollowsParentOut, waitHostGone } from './host-helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'dedup-chdb-host-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('chdb host process', () => {
  it('the engine lives in the host: the library is mapped there, not in this process', async () => {
    const handle = await acquireChdb(join(scratch, 'maps'));
    try {
      assert.match(await handle.db.query('SELECT 1'), /^1\s*$/);
      const library = /libchdb/;
      assert.ok(library.test(readFileSync(`/proc/${handle.db.pid}/maps`, 'utf8')), 'libchdb is mapped in the host');
      assert.ok(!library.test(readFileSync('/proc/self/maps', 'utf8')), 'libchdb is not mapped in the dedup-lab process');
      const memory = handle.db.memory();
      assert.ok(memory && memory.rssBytes > 0 && memory.peakRssBytes >= memory.rssBytes);
    } finally {
      await handle.release();
    }
  });

  it('a killed host is a lost connection: pending and later calls reject naming its pid, and connect() after close() starts a fresh host with the committed data', async () => {
    const adapter = definition.create('chdb', definition.parseOptions({ dataDir: join(scratch, 'crash') }), 'dedup_crash');
    await adapter.connect();
    const cell = makeCell({ variant: 'mergetree', mode: 'blob' });
    await adapter.resetLab(cell);
    const outcome = await adapter.bulkInsert(iterate(makeLabFiles({ count: 3, size: 4096, seed: 'crash' })), cell);
    assert.equal(outcome.acknowledged.length, 3);
    const joined = await acquireChdb(adapter.localDataPaths()[0]!);
    const killedPid = joined.db.pid;
    // A query that runs for seconds, pending when the host dies.
    const pending = joined.db.query('SELECT sum(sipHash64(number)) FROM numbers(100000000000)');
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(killedPid, 'SIGKILL');
    const lost = (error: unknown) => error instanceof ChdbHostLostError && error.message.includes(`chdb host process ${killedPid} `) && /killed by SIGKILL — connection lost/.test(error.message);
    await assert.rejects(pending, lost);
    await joined.release();
    await assert.rejects(adapter.countStored(cell), lost);
    await assert.rejects(adapter.version(), ChdbHostLostError);
    await adapter.close();
    await adapter.connect();
    assert.equal(await adapter.countStored(cell), 3);
    const again = await acquireChdb(adapter.localDataPaths()[0]!);
    assert.notEqual(again.db.pid, killedPid);
    await again.release();
    await adapter.dropLab();
    await adapter.close();
    assert.ok(await waitHostGone(again.db.pid), 'the fresh host exits with the last reference');
  });

  it('the host exits when the dedup-lab process dies', async () => {
    await assertHostFollowsParentOut(new URL('../../src/systems/chdb.ts', import.meta.url), 'acquireChdb', join(scratch, 'orphan'), scratch);
  });
});
