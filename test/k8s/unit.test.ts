/** Pure parts of the Kubernetes support: workload coordinates, guard, annotation, queries, RBAC rules, manifests. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import { UsageError } from '../../src/core/errors.js';
import { cascadeWorkload, parseScaleRecord, readyPodCount, workloadRef } from '../../src/k8s/workload.js';
import { longhornVolumeOf, volumesQuery } from '../../src/k8s/volumes.js';
import { apiErrorLine } from '../../src/k8s/client.js';
import { buildManifests, envReferences, loadConfigTemplate, manifestFileName, rulesFor } from '../../src/k8s/manifests.js';
import { scalableWorkloads } from '../../src/k8s/cascade.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/k8s.yaml', import.meta.url));

function entry(k8s: Record<string, unknown>) {
  return parseConfig({ systems: [{ id: 'sqlite', k8s }] }).systems[0]!;
}

describe('workload references', () => {
  it('maps known kinds and needs apiVersion for others', () => {
    assert.deepEqual(workloadRef(entry({ namespace: 'db', workload: 'statefulset/pg' }).k8s!, 'x'), { namespace: 'db', kind: 'StatefulSet', name: 'pg', group: 'apps', version: 'v1', resource: 'statefulsets' });
    assert.equal(workloadRef(entry({ namespace: 'k', workload: 'kafkanodepool/pool' }).k8s!, 'x').group, 'kafka.strimzi.io');
    const custom = workloadRef(entry({ namespace: 'k', workload: { kind: 'Cluster', name: 'c1', apiVersion: 'example.io/v2', resource: 'clusters' } }).k8s!, 'x');
    assert.deepEqual([custom.group, custom.version, custom.resource, custom.kind], ['example.io', 'v2', 'clusters', 'Cluster']);
    assert.throws(() => workloadRef(entry({ namespace: 'k', workload: 'widget/w' }).k8s!, 'x'), /kind "widget" needs apiVersion.*StatefulSet, Deployment/);
  });
  it('refuses a production workload that asks to be scaled, before any I/O', () => {
    assert.throws(() => cascadeWorkload(entry({ namespace: 'db', workload: 'statefulset/pg', production: true, replicasUp: 2 }), 0), (error: unknown) => error instanceof UsageError && /production: true, which is never scaled/.test(error.message));
    const prod = cascadeWorkload(entry({ namespace: 'db', workload: 'statefulset/pg', production: true }), 0)!;
    assert.equal(prod.production, true);
    const lab = cascadeWorkload(entry({ namespace: 'db', workload: 'statefulset/pg' }), 0)!;
    assert.deepEqual([lab.replicasUp, lab.replicasDown, lab.readyTimeoutS], [1, 0, 600]);
    assert.throws(() => cascadeWorkload(entry({ namespace: 'db', workload: 'statefulset/pg', replicasUp: 1, replicasDown: 1 }), 0), /replicasDown 1 must be below replicasUp 1/);
  });
  it('reads only its own annotation and counts Ready pods that are not being deleted', () => {
    assert.deepEqual(parseScaleRecord('{"runId":"r1","restoreReplicas":0,"previousReplicas":2,"scaledAt":"t"}'), { runId: 'r1', restoreReplicas: 0, previousReplicas: 2, scaledAt: 't' });
    assert.equal(parseScaleRecord('not json'), null);
    assert.equal(parseScaleRecord('{"runId":"r1","restoreReplicas":-1}'), null);
    assert.equal(parseScaleRecord(undefined), null);
    assert.equal(readyPodCount([{ name: 'a', ready: true, deleting: false }, { name: 'b', ready: true, deleting: true }, { name: 'c', ready: false, deleting: false }]), 1);
  });
});

describe('volumes: auto', () => {
  it('builds one summed query over exactly the volumes, names checked', () => {
    assert.equal(volumesQuery(['pvc-b', 'pvc-a', 'pvc-a']), 'sum(longhorn_volume_actual_size_bytes{volume=~"^(pvc-a|pvc-b)$"})');
    assert.equal(volumesQuery(['v.1'], 'm'), 'sum(m{volume=~"^(v\\\\.1)$"})');
    assert.throws(() => volumesQuery(['a"}) or vector(1) #']), /not a Kubernetes\/Longhorn name/);
    assert.throws(() => volumesQuery([]), /no volumes/);
    assert.equal(longhornVolumeOf({ metadata: { name: 'pv1' }, spec: { csi: { driver: 'driver.longhorn.io', volumeHandle: 'pvc-123' } } }), 'pvc-123');
    assert.equal(longhornVolumeOf({ metadata: { name: 'pv1' }, spec: {} }), 'pv1');
  });
  it('the config takes volumes: auto instead of a query, not both', () => {
    const probe = { url: 'http://p:9090', replicas: 3 };
    assert.equal(parseConfig({ systems: [{ id: 'sqlite', probes: { prometheus: { ...probe, volumes: 'auto' } } }] }).systems[0]!.probes.prometheus!.volumes, 'auto');
    assert.throws(() => parseConfig({ systems: [{ id: 'sqlite', probes: { prometheus: { ...probe, volumes: 'auto', query: 'up' } } }] }), /exactly one of query and volumes/);
    assert.throws(() => parseConfig({ systems: [{ id: 'sqlite', probes: { prometheus: probe } }] }), /exactly one of query and volumes/);
  });
});

describe('API errors', () => {
  it('one line naming the workload and the verb, with the API message', () => {
    const error = Object.assign(new Error('HTTP-Code: 403\nMessage: …\nBody: …'), { code: 403, body: '{"kind":"Status","message":"statefulsets.apps \\"pg\\" is forbidden: User \\"system:serviceaccount:a:b\\" cannot patch resource"}' });
    const line = apiErrorLine('scale of statefulset/pg in namespace db', 'patch', error);
    assert.equal(line, 'kubernetes: cannot patch scale of statefulset/pg in namespace db: HTTP 403 (statefulsets.apps "pg" is forbidden: User "system:serviceaccount:a:b" cannot patch resource)');
    assert.ok(!line.includes('\n'));
    assert.equal(apiErrorLine('x', 'get', new Error('connect ECONNREFUSED 127.0.0.1:1\nmore')), 'kubernetes: cannot get x: connect ECONNREFUSED 127.0.0.1:1');
  });
});

describe('k8s manifests', () => {
  const text = readFileSync(EXAMPLE, 'utf8');
  const config = loadConfigTemplate(text, EXAMPLE);
  const objects = buildManifests(config, { namespace: 'dedup-lab', image: 'registry.example/dedup-lab:0.1.0', configText: text, resultsStorage: '20Gi', activeDeadlineSeconds: 86400 });

  it('examples/k8s.yaml: the seven systems, production exactly PostgreSQL, CockroachDB and MinIO', () => {
    assert.deepEqual(config.systems.map((system) => system.id), ['postgresql', 'cockroachdb', 'mariadb', 'clickhouse', 'redis', 'kafka', 'minio']);
    assert.deepEqual(config.systems.filter((system) => system.k8s?.production).map((system) => system.id), ['postgresql', 'cockroachdb', 'minio']);
    assert.deepEqual(scalableWorkloads(config).map((workload) => workload.instance), ['mariadb', 'clickhouse', 'redis', 'kafka']);
  });
  it('examples/k8s.yaml: every system with a Longhorn probe lets the storage layer decide (no primary override)', () => {
    const withLonghorn = config.systems.filter((system) => system.probes?.prometheus !== undefined);
    assert.deepEqual(withLonghorn.map((system) => system.id), ['postgresql', 'cockroachdb', 'mariadb', 'clickhouse', 'kafka']);
    assert.deepEqual(withLonghorn.filter((system) => system.probes?.primary !== undefined).map((system) => `${system.id}: ${system.probes?.primary}`), []);
  });
  it('Roles grant scale of exactly the non-production workloads, pods list/watch, nothing else', () => {
    const roles = objects.filter((object) => object.kind === 'Role');
    const allRules = roles.flatMap((role) => role.rules as { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[]);
    const scaled = allRules.filter((rule) => rule.resources.some((resource) => resource.endsWith('/scale'))).flatMap((rule) => rule.resourceNames ?? []);
    assert.deepEqual(scaled.sort(), ['clickhouse', 'dual-role', 'mariadb', 'redis']);
    for (const rule of allRules) {
      assert.ok(!rule.verbs.includes('delete') && !rule.verbs.includes('create') && !rule.verbs.includes('*'), JSON.stringify(rule));
      assert.ok(!rule.resources.includes('secrets'), JSON.stringify(rule));
      if (rule.resources[0] !== 'pods' && rule.resources[0] !== 'persistentvolumeclaims') assert.ok((rule.resourceNames ?? []).length > 0, `unnamed rule ${JSON.stringify(rule)}`);
    }
    assert.deepEqual(rulesFor([], false), [{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }]);
  });
  it('the Job is non-root, read-only, without capabilities, memory-limited; the Secret has no values; the ConfigMap keeps ${…}', () => {
    const job = objects.find((object) => object.kind === 'Job') as unknown as { spec: { backoffLimit: number; activeDeadlineSeconds: number; template: { spec: { securityContext: { runAsNonRoot: boolean }; containers: { args: string[]; securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } }; resources: { limits: { memory: string } } }[] } } } };
    const pod = job.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.containers[0]!.securityContext.readOnlyRootFilesystem, true);
    assert.equal(pod.containers[0]!.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(pod.containers[0]!.securityContext.capabilities.drop, ['ALL']);
    assert.equal(pod.containers[0]!.resources.limits.memory, '384Mi');
    assert.equal(pod.containers[0]!.args[0], 'cascade');
    assert.ok(job.spec.backoffLimit > 0 && job.spec.activeDeadlineSeconds === 86400);
    const secret = objects.find((object) => object.kind === 'Secret') as unknown as { stringData: Record<string, string> };
    assert.ok(Object.keys(secret.stringData).includes('MINIO_ACCESS_KEY'));
    assert.ok(Object.keys(secret.stringData).includes('var_run_secrets_dedup_pg'));
    assert.ok(Object.values(secret.stringData).every((value) => value === ''));
    const configMap = objects.find((object) => object.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    assert.ok(configMap.data['config.yaml']!.includes('${MINIO_ACCESS_KEY}'));
    assert.deepEqual(envReferences('a ${X} b ${Y_1} ${X}'), ['X', 'Y_1']);
    assert.equal(manifestFileName(0, objects[0]!), '01-serviceaccount-dedup-lab-dedup-lab.yaml');
  });
});
