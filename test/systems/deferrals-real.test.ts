/**
 * Declared deferrals on the real servers (SPEC §6.4, issue 10): SeaweedFS's automatic vacuum and
 * InnoDB's purge are declared from what the server says, the reclaim watch honours them, and they
 * are gone once the server has nothing pending. Each expectation is read from the server itself
 * (the volume server's /status, INNODB_METRICS), beside the adapter.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { choosePrimaryProbe } from '../../src/measure/layers.js';
import { realClock } from '../../src/measure/settle.js';
import { reclaimWatchAfter } from '../../src/experiment/physical.js';
import { definition as mariadbDefinition } from '../../src/systems/mariadb.js';
import { definition as s3Definition } from '../../src/systems/minio.js';
import type { CellContext, SystemAdapter } from '../../src/systems/types.js';
import { iterate, makeCell, makeLabFiles } from './fixtures.js';
import { requireEnv, s3OptionsFromEnv } from './kv-helpers.js';
import { mariadbOptionsFromEnv } from './sql-helpers.js';

async function watch(adapter: SystemAdapter, cell: CellContext, windowMs: number) {
  const probes = adapter.probes(cell);
  return reclaimWatchAfter('perfile_delete', { adapter, context: cell, probes, choice: choosePrimaryProbe(probes, undefined), windowMs, clock: realClock, signal: new AbortController().signal });
}

/** The collection's worst garbage level, straight from the volume servers the master lists (deleted bytes / size). */
async function worstGarbage(master: string, collection: string): Promise<number> {
  const dir = (await (await fetch(new URL('/dir/status', master))).json()) as { Topology: { DataCenters: { Racks: { DataNodes: { Url: string }[] }[] }[] } };
  const urls = dir.Topology.DataCenters.flatMap((dc) => dc.Racks.flatMap((rack) => rack.DataNodes.map((node) => node.Url)));
  let worst = 0;
  for (const url of urls) {
    const status = (await (await fetch(`http://${url}/status`)).json()) as { Volumes: { Collection: string; Size: number; DeletedByteCount: number }[] };
    for (const volume of status.Volumes) if (volume.Collection === collection && volume.Size > 0) worst = Math.max(worst, volume.DeletedByteCount / volume.Size);
  }
  return worst;
}

describe('SeaweedFS: the master’s automatic vacuum is a declared deferral', { timeout: 300_000 }, () => {
  const master = requireEnv('DEDUP_LAB_S3_MASTER_URL');
  const adapter = s3Definition.create('minio', s3Definition.parseOptions({ ...s3OptionsFromEnv(), dataDir: requireEnv('DEDUP_LAB_S3_DATA_DIR'), seaweedfsMasterUrl: master }), 'dedup_defer');
  const cell = makeCell({ variant: 'by-id', mode: 'blob' });
  const files = makeLabFiles({ count: 12, size: 64 * 1024, seed: 'defer-s3' });
  before(async () => {
    await adapter.connect();
    await adapter.resetLab(cell);
  });
  after(async () => {
    await adapter.dropLab();
    await adapter.close();
  });

  it('pending only while the collection holds garbage above the threshold: the watch keeps going then, and ends early after the vacuum', async (t) => {
    await adapter.bulkInsert(iterate(files), cell);
    const bucket = (adapter as unknown as { bucketOf(cell: CellContext): string }).bucketOf(cell);
    const declared = async () => {
      const deferrals = await adapter.deferrals!(cell, 'perfile_delete');
      assert.deepEqual(deferrals.map((deferral) => deferral.name), ['seaweedfs filer chunk deletion', 'seaweedfs vacuum']);
      return deferrals[1]!;
    };
    assert.equal(await worstGarbage(master, bucket), 0);
    assert.equal(await (await declared()).stillPending?.(), false, 'no garbage: nothing pending');
    for (const file of files.slice(0, 9)) await adapter.deleteOne(file, cell);
    const deletedAt = Date.now();
    let garbage = await worstGarbage(master, bucket);
    while (garbage <= 0.3 && Date.now() - deletedAt < 10_000) garbage = (await new Promise((resolve) => setTimeout(resolve, 100)), await worstGarbage(master, bucket));
    t.diagnostic(`garbage ${garbage.toFixed(2)} visible ${Date.now() - deletedAt} ms after the deletes returned`);
    assert.ok(garbage > 0.3, `the deletes left garbage above SeaweedFS's default threshold: ${garbage}`);
    assert.ok(Date.now() - deletedAt < 3_000, 'within the filer-deletion allowance the adapter declares');
    const vacuum = await declared();
    assert.equal(vacuum.durationMs, 840_000);
    assert.match(vacuum.source, /SeaweedFS defaults .*not readable over the master's HTTP API/);
    assert.equal(await vacuum.stillPending?.(), true);
    const held = await watch(adapter, cell, 6_000);
    assert.equal(held.timeToReclaimMs, null, 'a plateau while the vacuum is pending is not final');
    assert.match(held.reclaimNote ?? '', /not reclaimed within 6 s \(still pending: seaweedfs vacuum 840 s\); watched lab_fs/);
    await adapter.maintenance(cell);
    assert.ok((await worstGarbage(master, bucket)) <= 0.3, 'the vacuum compacted the collection');
    const started = Date.now();
    const after = await watch(adapter, cell, 60_000);
    assert.match(after.reclaimNote ?? '', /^watched lab_fs; deferrals: seaweedfs filer chunk deletion 3 s .*seaweedfs vacuum 840 s/);
    assert.notEqual(after.timeToReclaimMs, null);
    assert.ok(Date.now() - started < 30_000, `ended early, not at the sweep interval or the window: ${Date.now() - started} ms`);
  });
});

describe('MariaDB: InnoDB purge is a declared deferral while the history list is non-empty', { timeout: 300_000 }, () => {
  const options = mariadbDefinition.parseOptions(mariadbOptionsFromEnv());
  const adapter = mariadbDefinition.create('mariadb', options, 'dedup_defer');
  const cell = makeCell({ variant: 'default', mode: 'blob' });
  const files = makeLabFiles({ count: 10, size: 32 * 1024, seed: 'defer-mariadb' });
  let snapshot: import('mariadb').Connection | null = null;
  const historyLength = async (conn: import('mariadb').Connection) => Number((await conn.query<{ n: unknown }[]>("SELECT `COUNT` AS n FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'"))[0]?.n);
  before(async () => {
    await adapter.connect();
    await adapter.resetLab(cell);
    const env = mariadbOptionsFromEnv();
    snapshot = await (await import('mariadb')).createConnection({ host: String(env.host), port: Number(env.port), user: String(env.user), password: String(env.password) });
  });
  after(async () => {
    await snapshot?.end();
    await adapter.dropLab();
    await adapter.close();
  });

  it('an open read view holds the purge: declared and watched as pending; once released the watch ends on its own', async () => {
    await adapter.bulkInsert(iterate(files), cell);
    // A consistent snapshot keeps purge from removing what the deletes leave (what a long reader does in production).
    await snapshot!.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    for (const file of files) await adapter.deleteOne(file, cell);
    assert.ok((await historyLength(snapshot!)) > 0, 'the server reports purge work');
    const [deferral] = await adapter.deferrals!(cell, 'perfile_delete');
    assert.ok(deferral, 'declared');
    assert.equal(deferral.name, 'innodb purge');
    assert.match(deferral.source, /trx_rseg_history_len = [1-9]\d*/);
    const held = await watch(adapter, cell, 3_000);
    assert.equal(held.timeToReclaimMs, null);
    assert.match(held.reclaimNote ?? '', /still pending: innodb purge/);
    await snapshot!.query('COMMIT');
    const started = Date.now();
    const released = await watch(adapter, cell, 60_000);
    assert.equal(released.reclaimNote?.startsWith('watched '), true, `ended on its own: ${released.reclaimNote}`);
    assert.notEqual(released.timeToReclaimMs, null);
    assert.ok(Date.now() - started < 60_000);
    assert.equal(await historyLength(snapshot!), 0, 'purge is done when the watch ends');
  });
});
