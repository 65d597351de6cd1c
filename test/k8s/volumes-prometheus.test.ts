/**
 * `probes.prometheus.volumes: auto` end to end (issue 11 #6): a StatefulSet's pods → their PVCs →
 * PVs with Longhorn CSI volume handles on the real control plane; Longhorn's volume metric pushed to
 * the real Pushgateway for exactly those volumes and for a decoy beside them; the probe built from
 * the config reads the real Prometheus. It must read the workload's volumes summed (never the
 * decoy), per copy the sum divided by the configured replicas, and follow a changed value.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { computeSpace } from '../../src/measure/edr.js';
import { prometheusProbeFor, volumesQuery } from '../../src/k8s/volumes.js';
import { pollUntil, requireEnv } from '../trace/helpers.js';
import { apply, createNamespace, deleteNamespace, kubectl, statefulSet, uniqueName } from './cluster.js';

const METRIC = 'longhorn_volume_actual_size_bytes';
const REPLICAS = 3;

let ns: string;
let job: string;
const pvNames: string[] = [];

function longhornPv(name: string, claim: { namespace: string; name: string }) {
  pvNames.push(name);
  return { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'longhorn', claimRef: claim, csi: { driver: 'driver.longhorn.io', volumeHandle: `${name}-lh` } } };
}

function claim(namespace: string, name: string, volumeName: string) {
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'longhorn', volumeName, resources: { requests: { storage: '1Gi' } } } };
}

async function push(sizes: Record<string, number>): Promise<void> {
  const body = Object.entries(sizes).map(([volume, bytes]) => `${METRIC}{volume="${volume}"} ${bytes}`).join('\n');
  const response = await fetch(`${requireEnv('DEDUP_LAB_PUSHGATEWAY_URL')}/metrics/job/${job}`, { method: 'PUT', body: `${body}\n` });
  assert.equal(response.status, 200, await response.text());
}

before(() => {
  ns = createNamespace('dl-volumes');
  job = uniqueName('dedup_lab_longhorn').replace(/-/g, '_');
});
after(async () => {
  await fetch(`${requireEnv('DEDUP_LAB_PUSHGATEWAY_URL')}/metrics/job/${job}`, { method: 'DELETE' });
  deleteNamespace(ns);
  if (pvNames.length > 0) kubectl(['delete', 'pv', '--wait=false', '--ignore-not-found', ...pvNames]);
});

describe('volumes: auto through the real Prometheus', () => {
  it('reads exactly the workload\'s Longhorn volumes, summed, per copy divided by replicas; not the decoy', async () => {
    const sts = 'lh-db';
    // The StatefulSet controller uses claims that already exist under its template's names (data-lh-db-0, -1).
    const pvs = [0, 1].map((ordinal) => `pvc-${ns}-${ordinal}`);
    const decoyPv = `pvc-${ns}-decoy`;
    apply([
      ...pvs.map((pv, ordinal) => longhornPv(pv, { namespace: ns, name: `data-${sts}-${ordinal}` })),
      ...pvs.map((pv, ordinal) => claim(ns, `data-${sts}-${ordinal}`, pv)),
      // The decoy: a Longhorn volume in the same namespace, mounted by another app's pod.
      longhornPv(decoyPv, { namespace: ns, name: 'decoy-data' }),
      claim(ns, 'decoy-data', decoyPv),
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'decoy', namespace: ns, labels: { app: 'decoy' } }, spec: { containers: [{ name: 'c', image: 'registry.invalid/x:1' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'decoy-data' } }] } },
      withClaimTemplate(statefulSet(ns, sts, 2)),
    ]);
    await pollUntil(async () => kubectl(['get', 'pods', '-n', ns, '-l', `app=${sts}`, '-o', 'name']).trim().split('\n').filter(Boolean).length, (count) => count === 2, 60_000, 'two pods of the StatefulSet');

    const sizes = { [`${pvs[0]}-lh`]: 7_340_032, [`${pvs[1]}-lh`]: 5_242_880 + 4096 };
    const decoyBytes = 1_000_000_007;
    await push({ ...sizes, [`${decoyPv}-lh`]: decoyBytes });

    const config = parseConfig({
      systems: [{ id: 'postgresql', options: { host: '127.0.0.1' }, k8s: { namespace: ns, workload: `statefulset/${sts}`, production: true }, probes: { prometheus: { url: requireEnv('DEDUP_LAB_PROMETHEUS_URL'), volumes: 'auto', replicas: REPLICAS, settleTimeoutMs: 30_000, pollIntervalMs: 1_000 } } }],
    });
    const entry = config.systems[0]!;
    const probe = await prometheusProbeFor(entry, entry.probes!.prometheus!);
    assert.equal(probe.replicas, REPLICAS);
    const expected = Object.values(sizes).reduce((a, b) => a + b, 0);
    const reading = await pollUntil(() => probe.read(), (r) => r.bytes === expected, 30_000, `the probe to read ${expected}`);
    assert.deepEqual(reading, { bytes: expected });
    assert.equal(computeSpace(null, reading.bytes, 0, probe.replicas).residualBytes, expected / REPLICAS, 'per stored copy');
    // Prometheus does hold the decoy: the probe just does not ask for it.
    const all = await prometheusProbeFor(entry, { ...entry.probes!.prometheus!, volumes: undefined, query: `sum(${METRIC}{job="${job}"})` });
    assert.deepEqual(await pollUntil(() => all.read(), (r) => r.bytes === expected + decoyBytes, 30_000, 'the decoy included'), { bytes: expected + decoyBytes });
    assert.equal(volumesQuery(Object.keys(sizes)), `sum(${METRIC}{volume=~"^(${Object.keys(sizes).sort().join('|')})$"})`);

    // A changed value changes the reading: the number comes from Prometheus, not from anywhere else.
    const grown = { ...sizes, [`${pvs[1]}-lh`]: 9_999_360 };
    await push({ ...grown, [`${decoyPv}-lh`]: decoyBytes + 1 });
    const expectedGrown = Object.values(grown).reduce((a, b) => a + b, 0);
    assert.deepEqual(await pollUntil(() => probe.read(), (r) => r.bytes === expectedGrown, 30_000, `the probe to read ${expectedGrown}`), { bytes: expectedGrown });
  });

  it('a workload whose pods mount no claim: every read is missing with the reason, never a number', async () => {
    apply([statefulSet(ns, 'no-claims', 1)]);
    await pollUntil(async () => kubectl(['get', 'pods', '-n', ns, '-l', 'app=no-claims', '-o', 'name']).trim(), (out) => out !== '', 60_000, 'the pod');
    const config = parseConfig({ systems: [{ id: 'postgresql', options: { host: '127.0.0.1' }, k8s: { namespace: ns, workload: 'statefulset/no-claims', production: true }, probes: { prometheus: { url: requireEnv('DEDUP_LAB_PROMETHEUS_URL'), volumes: 'auto', replicas: REPLICAS } } }] });
    const entry = config.systems[0]!;
    const reading = await (await prometheusProbeFor(entry, entry.probes!.prometheus!)).read();
    assert.equal(reading.bytes, null);
    assert.match(reading.error!, /volumes: auto: statefulset\/no-claims in namespace \S+: its 1 pods mount no PersistentVolumeClaim/);
  });
});

function withClaimTemplate<T extends ReturnType<typeof statefulSet>>(sts: T) {
  const template = { ...sts.spec.template, spec: { ...sts.spec.template.spec, containers: sts.spec.template.spec.containers.map((c) => ({ ...c, volumeMounts: [{ name: 'data', mountPath: '/data' }] })) } };
  return { ...sts, spec: { ...sts.spec, template, volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'longhorn', resources: { requests: { storage: '1Gi' } } } }] } };
}
