/**
 * The runner adds a configured `prometheus` probe to every result with its replica count, and a
 * metric that does not move with the data gives no EDR (unmeasurable), never a number.
 * Needs the real Prometheus of `npm run services:up` (DEDUP_LAB_PROMETHEUS_URL).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { runInProcess, tempDir } from './helpers.js';

it('a configured prometheus probe is read in every stage with its replicas', async () => {
  const url = process.env.DEDUP_LAB_PROMETHEUS_URL;
  assert.ok(url, 'DEDUP_LAB_PROMETHEUS_URL is not set: start the services (npm run services:up) and eval "$(bash scripts/services.sh env)"');
  const root = tempDir('prom');
  const config = parseConfig({
    systems: [{ id: 'sqlite', options: { dataDir: join(root, 'lab') }, probes: { prometheus: { url, query: 'vector(1048576)', replicas: 3, settleTimeoutMs: 5000, pollIntervalMs: 50 } } }],
  });
  const { summary, records } = await runInProcess({
    config,
    cli: { systems: 'sqlite', payloadTypes: 'random_binary', grades: 'U0', files: '6', minSize: '4KiB', maxSize: '8KiB', stages: 'bulk_insert' },
    dataDir: join(root, 'data'),
    resultsDir: join(root, 'results'),
  });
  assert.deepEqual(summary.failedCells, []);
  const [record] = records;
  const probe = record?.probes.find((p) => p.name === 'prometheus');
  assert.ok(probe, JSON.stringify(record?.probes));
  assert.equal(probe.replicas, 3);
  assert.equal(probe.baseline, 1048576);
  assert.equal(probe.after, 1048576);
  assert.equal(probe.settled, true);
  assert.equal(probe.edr, null);
  assert.equal(probe.edrFlag.status, 'unmeasurable');
  assert.equal(record?.edrFlag.status, 'ok', 'the primary internal probe is unaffected');
});
