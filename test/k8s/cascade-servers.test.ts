/**
 * `cascade` on the real control plane with the systems' protocols served by the local real servers
 * (issue 11 #1, #2, #7): PostgreSQL behind a StatefulSet, Redis behind a Deployment, Kafka behind a
 * KafkaNodePool — each scaled up, its pods Ready (kwok), its protocol answering, its cells run with
 * real numbers, scaled down. A system pointing at a closed port fails without stopping the cascade;
 * a production Redis is never scaled but its cells run. A second cascade: MariaDB, ClickHouse, NATS
 * and a production MinIO (SeaweedFS). Needs the server lock (scripts/test.sh).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { readRecords } from '../../src/experiment/results.js';
import type { StageRecord } from '../../src/experiment/record.js';
import { runCli, tempDir } from '../experiment/helpers.js';
import { annotationOf, apply, createNamespace, deleteNamespace, deployment, ensureKafkaNodePoolCrd, fakeKafkaOperator, generation, kafkaNodePool, readyPods, specReplicas, statefulSet } from './cluster.js';

// Seconds per system: one variant each (--variants, per test: only configured systems are valid), one stage, a handful of small files.
const DATA = ['--payload-types', 'random_binary', '--grades', 'U50', '--files', '8', '--min-size', '4KiB', '--max-size', '8KiB', '--stages', 'bulk_insert'];
const SYSTEMS = ['pg', 'redis', 'kafka', 'pg-down', 'redis-prod'];

let ns: string;
let root: string;

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// `${…}` references: the config file holds no password; the CLI substitutes them from the env of services.sh.
const pgOptions = (port = '${DEDUP_LAB_PG_PORT}') => ({ host: '${DEDUP_LAB_PG_URL_HOST}', port, user: '${DEDUP_LAB_PG_USER}', password: '${DEDUP_LAB_PG_PASSWORD}', database: '${DEDUP_LAB_PG_DATABASE}', dataDir: '${DEDUP_LAB_PG_DATA_DIR}' });
const redisOptions = { host: '${DEDUP_LAB_REDIS_URL_HOST}', port: '${DEDUP_LAB_REDIS_PORT}', password: '${DEDUP_LAB_REDIS_PASSWORD}' };
const kafkaOptions = { brokers: '${DEDUP_LAB_KAFKA_BROKERS}', dataDir: '${DEDUP_LAB_KAFKA_DATA_DIR}' };

before(() => {
  ensureKafkaNodePoolCrd();
  ns = createNamespace('dl-servers');
  root = tempDir('cascade-servers');
});
after(() => deleteNamespace(ns));

/** The config file of one cascade (data sets under the test's root). */
function writeConfig(name: string, systems: object[]): string {
  const file = join(root, `${name}.yaml`);
  writeFileSync(file, stringify({ dataDir: join(root, 'data'), systems }));
  return file;
}

/** Runs `cascade`, noting how many pods of each workload were Ready when its cells started. */
/** `total`: systems in the cascade (the k of n in its progress lines). */
async function cascadeRecordingReady(config: string, resultsDir: string, variants: string, total: number, selectors: Record<string, string>) {
  const readyWhenRunning: Record<string, number> = {};
  const result = await runCli(['cascade', '--config', config, '--results-dir', resultsDir, ...DATA, '--variants', variants], {
    cwd: root,
    onStderr: (text) => {
      for (const [instance, selector] of Object.entries(selectors)) {
        if (readyWhenRunning[instance] === undefined && new RegExp(`cascade \\d/${total} ${instance}: running`).test(text)) readyWhenRunning[instance] = readyPods(ns, selector);
      }
    },
  });
  return { result, readyWhenRunning };
}

/** Every record a real measurement: no error, the data set's bytes, the primary probe grew, an EDR. */
function assertRealRecords(records: StageRecord[], instances: string[]): void {
  assert.deepEqual([...new Set(records.map((record) => record.instance))].sort(), instances);
  for (const record of records) {
    assert.equal(record.error, null, `${record.instance}: ${record.error}`);
    assert.equal(record.stage, 'bulk_insert');
    assert.equal(record.files, 8);
    assert.ok(record.logicalBytes >= 8 * 4096 && record.logicalBytes <= 8 * 8192, `${record.instance}: logicalBytes ${record.logicalBytes}`);
    const primary = record.probes.find((probe) => probe.name === record.primaryProbe);
    assert.ok(primary && primary.delta !== null && primary.delta > 0, `${record.instance}: the primary probe ${record.primaryProbe} measured growth (${JSON.stringify(primary)})`);
    assert.ok(record.edr !== null && record.edr > 0, `${record.instance}: EDR ${record.edr} (${record.edrFlag.reason})`);
  }
}

describe('cascade with the local real servers behind the workloads', () => {
  it('PostgreSQL, Redis, Kafka: scaled up, Ready, protocol answers, real cells, scaled down; a closed port fails alone; production never scaled', async () => {
    apply([statefulSet(ns, 'pg', 0), deployment(ns, 'redis', 0), kafkaNodePool(ns, 'kafka', 0), statefulSet(ns, 'pg-down', 0), statefulSet(ns, 'redis-prod', 1)]);
    const operator = fakeKafkaOperator(ns, 'kafka');
    const prodGeneration = generation(ns, 'statefulset/redis-prod');
    const k8s = (workload: string, extra: Record<string, unknown> = {}) => ({ namespace: ns, workload, readyTimeoutS: 60, ...extra });
    const config = writeConfig('servers', [
      { id: 'postgresql', instance: 'pg', options: pgOptions(), k8s: k8s('statefulset/pg', { replicasUp: 2 }) },
      { id: 'redis', instance: 'redis', options: redisOptions, k8s: k8s('deployment/redis') },
      { id: 'kafka', instance: 'kafka', options: kafkaOptions, k8s: k8s('kafkanodepool/kafka', { replicasUp: 3, podSelector: 'strimzi.io/pool-name=kafka' }) },
      { id: 'postgresql', instance: 'pg-down', options: pgOptions(String(await closedPort())), k8s: k8s('statefulset/pg-down', { readyTimeoutS: 5 }) },
      { id: 'redis', instance: 'redis-prod', options: redisOptions, k8s: k8s('statefulset/redis-prod', { production: true }) },
    ]);
    const resultsDir = join(root, 'results');
    const { result, readyWhenRunning } = await cascadeRecordingReady(config, resultsDir, 'postgresql:default,redis:by-id,kafka:delete', 5, { pg: 'app=pg', redis: 'app=redis', kafka: 'strimzi.io/pool-name=kafka' }).finally(() => operator.stop());
    const { stderr } = result;
    assert.equal(result.code, 1, stderr);
    assert.deepEqual(readyWhenRunning, { pg: 2, redis: 1, kafka: 3 }, 'the pods were Ready when the cells started');
    // The protocol answered: the running line carries the version the adapter read from the real server.
    assert.match(stderr, /cascade 1\/5 pg: running — postgresql PostgreSQL 15\.\d+/);
    assert.match(stderr, /cascade 2\/5 redis: running — redis 7\.\d+/);
    assert.match(stderr, /cascade 3\/5 kafka: running — kafka kafka cluster \S+ \(1 broker\(s\)\)/);
    assert.match(stderr, /cascade 5\/5 redis-prod: running — redis 7\.\d+/);
    // The closed port: it waited, failed, was scaled down, and the cascade went on; exit 1 names it alone.
    assert.match(stderr, /cascade 4\/5 pg-down: scaling up — statefulset\/pg-down in namespace \S+ 0 → 1/);
    assert.match(stderr, /error: cascade 4\/5 pg-down: pg-down did not answer within 5 s: /);
    assert.match(stderr, /cascade 4\/5 pg-down: scaling down/);
    assert.match(stderr, /failed systems: pg-down \(/);
    assert.doesNotMatch(stderr, /failed systems:[^\n]*(pg \(|redis|kafka)/);
    assert.doesNotMatch(stderr, /redis-prod: scaling/);
    assert.ok(!stderr.includes(process.env.DEDUP_LAB_PG_PASSWORD!) && !stderr.includes(process.env.DEDUP_LAB_REDIS_PASSWORD!), 'no password in the output');

    assertRealRecords(readRecords(resultsDir), ['kafka', 'pg', 'redis', 'redis-prod']);
    for (const resource of ['statefulset/pg', 'deployment/redis', 'kafkanodepool/kafka', 'statefulset/pg-down']) {
      assert.equal(specReplicas(ns, resource), 0, `${resource} scaled down`);
      assert.equal(annotationOf(ns, resource), '', `${resource}: annotation removed`);
    }
    assert.equal(specReplicas(ns, 'statefulset/redis-prod'), 1);
    assert.equal(generation(ns, 'statefulset/redis-prod'), prodGeneration, 'the production StatefulSet was never changed');
    assert.deepEqual(SYSTEMS.filter((instance) => new RegExp(`cascade \\d/5 ${instance}: `).test(stderr)), SYSTEMS, 'every system had its turn');
  });

  it('MariaDB, ClickHouse, NATS behind StatefulSets and a Deployment; a production MinIO (SeaweedFS) never scaled', async () => {
    apply([statefulSet(ns, 'mariadb', 0), statefulSet(ns, 'clickhouse', 0), deployment(ns, 'nats', 0), statefulSet(ns, 'minio', 1)]);
    const prodGeneration = generation(ns, 'statefulset/minio');
    const k8s = (workload: string, extra: Record<string, unknown> = {}) => ({ namespace: ns, workload, readyTimeoutS: 60, ...extra });
    const config = writeConfig('more', [
      { id: 'mariadb', options: { host: '127.0.0.1', port: '${DEDUP_LAB_MARIADB_PORT}', user: '${DEDUP_LAB_MARIADB_USER}', password: '${DEDUP_LAB_MARIADB_PASSWORD}', dataDir: '${DEDUP_LAB_MARIADB_DATA_DIR}' }, k8s: k8s('statefulset/mariadb') },
      { id: 'clickhouse', options: { url: '${DEDUP_LAB_CLICKHOUSE_URL}', user: '${DEDUP_LAB_CLICKHOUSE_USER}', password: '${DEDUP_LAB_CLICKHOUSE_PASSWORD}', dataDir: '${DEDUP_LAB_CLICKHOUSE_DATA_DIR}' }, k8s: k8s('statefulset/clickhouse') },
      { id: 'nats', options: { servers: '${DEDUP_LAB_NATS_SERVERS}', user: '${DEDUP_LAB_NATS_USER}', password: '${DEDUP_LAB_NATS_PASSWORD}', dataDir: '${DEDUP_LAB_NATS_DATA_DIR}' }, k8s: k8s('deployment/nats', { replicasUp: 3 }) },
      { id: 'minio', options: { endpoint: '${DEDUP_LAB_S3_ENDPOINT}', accessKeyId: '${DEDUP_LAB_S3_ACCESS_KEY}', secretAccessKey: '${DEDUP_LAB_S3_SECRET_KEY}', dataDir: '${DEDUP_LAB_S3_DATA_DIR}' }, k8s: k8s('statefulset/minio', { production: true }) },
    ]);
    const resultsDir = join(root, 'results-more');
    const { result, readyWhenRunning } = await cascadeRecordingReady(config, resultsDir, 'mariadb:default,clickhouse:mergetree,nats:plain,minio:by-id', 4, { mariadb: 'app=mariadb', clickhouse: 'app=clickhouse', nats: 'app=nats' });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readyWhenRunning, { mariadb: 1, clickhouse: 1, nats: 3 }, 'the pods were Ready when the cells started');
    assert.match(result.stderr, /cascade 1\/4 mariadb: running — mariadb 10\.11\.\d+-MariaDB/);
    assert.match(result.stderr, /cascade 3\/4 nats: running — nats 2\.9\.\d+/);
    assert.doesNotMatch(result.stderr, /minio: scaling/);
    assertRealRecords(readRecords(resultsDir), ['clickhouse', 'mariadb', 'minio', 'nats']);
    for (const resource of ['statefulset/mariadb', 'statefulset/clickhouse', 'deployment/nats']) {
      assert.equal(specReplicas(ns, resource), 0, `${resource} scaled down`);
      assert.equal(annotationOf(ns, resource), '', `${resource}: annotation removed`);
    }
    assert.equal(generation(ns, 'statefulset/minio'), prodGeneration, 'the production StatefulSet was never changed');
  });
});
