/**
 * `k8s manifests` against the real control plane (issue 11 #5, #7): the printed objects apply with
 * `kubectl apply --dry-run=server` and for real; the generated ServiceAccount may do exactly what
 * `cascade` needs (can-i / SubjectAccessReview) and nothing of scaling production, deleting or
 * reading secrets; `cascade` runs under that ServiceAccount's token, from a kubeconfig and
 * through the in-cluster path; `volumes: auto` resolves real PVC → PV objects.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { readRecords } from '../../src/experiment/results.js';
import { runCli, tempDir } from '../experiment/helpers.js';
import { connectCluster } from '../../src/k8s/client.js';
import { resolveVolumes, volumesQuery } from '../../src/k8s/volumes.js';
import { workloadRef } from '../../src/k8s/workload.js';
import { annotationOf, apply, createNamespace, deleteNamespace, deployment, kubectl, specReplicas, statefulSet, tokenKubeconfig } from './cluster.js';

const DATA = ['--payload-types', 'random_binary', '--grades', 'U0', '--files', '3', '--min-size', '1KiB', '--max-size', '2KiB'];
let lab: string;
let jobs: string;
let root: string;
let configFile: string;

before(() => {
  lab = createNamespace('dl-lab');
  jobs = createNamespace('dl-jobs');
  root = tempDir('manifests');
  apply([statefulSet(lab, 'lab-sts', 0), statefulSet(lab, 'prod-sts', 1), statefulSet(lab, 'other-sts', 0)]);
  configFile = join(root, 'config.yaml');
  writeFileSync(
    configFile,
    stringify({
      dataDir: join(root, 'data'),
      systems: [
        { id: 'sqlite', instance: 'lab', options: { dataDir: join(root, 'lab') }, k8s: { namespace: lab, workload: 'statefulset/lab-sts', replicasUp: 1, readyTimeoutS: 60 } },
        { id: 'sqlite', instance: 'prod', options: { dataDir: join(root, 'prod') }, k8s: { namespace: lab, workload: 'statefulset/prod-sts', production: true } },
      ],
    }),
  );
});
after(() => {
  deleteNamespace(lab);
  deleteNamespace(jobs);
});

function canI(verb: string, resource: string, namespace: string, kubeconfig?: string): boolean {
  try {
    return kubectl(['auth', 'can-i', verb, resource, '-n', namespace, `--as=system:serviceaccount:${jobs}:dedup-lab`], undefined, kubeconfig).trim() === 'yes';
  } catch {
    return false; // can-i exits 1 with "no"
  }
}

describe('k8s manifests on a real control plane', () => {
  it('prints objects that apply with --dry-run=server and for real', async () => {
    const out = join(root, 'manifests');
    const printed = await runCli(['k8s', 'manifests', '--config', configFile, '--namespace', jobs, '--image', 'registry.example/dedup-lab:test'], { cwd: root });
    assert.equal(printed.code, 0, printed.stderr);
    const written = await runCli(['k8s', 'manifests', '--config', configFile, '--namespace', jobs, '--output', out], { cwd: root });
    assert.equal(written.code, 0, written.stderr);
    const files = readdirSync(out);
    assert.deepEqual(files.map((file) => file.replace(/^\d+-/, '').replace(/\.yaml$/, '').split('-')[0]).sort(), ['configmap', 'job', 'persistentvolumeclaim', 'role', 'rolebinding', 'secret', 'serviceaccount']);
    const dryRun = kubectl(['apply', '--dry-run=server', '-f', '-'], printed.stdout);
    assert.match(dryRun, /job\.batch\/dedup-lab-cascade created \(server dry run\)/);
    kubectl(['apply', '-f', out]);
    assert.equal(kubectl(['get', 'job', 'dedup-lab-cascade', '-n', jobs, '-o', 'jsonpath={.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem}']), 'true');
  });

  it('the ServiceAccount may do exactly what cascade needs', () => {
    assert.equal(canI('patch', 'statefulsets/lab-sts', lab), true, 'patch the workload (its cascade annotation)');
    assert.equal(canI('watch', 'statefulsets/lab-sts', lab), true);
    // subresource checks go through a SubjectAccessReview (kubectl can-i has --subresource)
    const sar = (name: string, verb: string, subresource = 'scale') =>
      JSON.parse(
        kubectl(['create', '-o', 'json', '-f', '-'], JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: `system:serviceaccount:${jobs}:dedup-lab`, groups: ['system:serviceaccounts', `system:serviceaccounts:${jobs}`, 'system:authenticated'], resourceAttributes: { namespace: lab, verb, group: 'apps', resource: 'statefulsets', subresource, name } } })),
      ).status.allowed === true;
    assert.equal(sar('lab-sts', 'patch'), true, 'scale the lab workload');
    assert.equal(sar('lab-sts', 'get'), true);
    assert.equal(sar('prod-sts', 'patch'), false, 'scaling production is denied');
    assert.equal(sar('prod-sts', 'get'), false);
    assert.equal(sar('other-sts', 'patch'), false, 'a workload not in the config is denied');
    assert.equal(canI('list', 'pods', lab), true);
    assert.equal(canI('watch', 'pods', lab), true);
    assert.equal(canI('delete', 'pods', lab), false);
    assert.equal(canI('delete', 'statefulsets/lab-sts', lab), false);
    assert.equal(canI('create', 'statefulsets', lab), false);
    assert.equal(canI('get', 'secrets', lab), false);
    assert.equal(canI('list', 'secrets', jobs), false);
    assert.equal(canI('patch', 'statefulsets/prod-sts', lab), false);
  });

  it('cascade runs under the generated ServiceAccount token (kubeconfig and in-cluster)', async () => {
    const { file, token } = tokenKubeconfig(root, jobs, 'dedup-lab');
    const viaKubeconfig = await runCli(['cascade', '--config', configFile, '--results-dir', join(root, 'results-sa'), ...DATA], { cwd: root, env: { KUBECONFIG: file } });
    assert.equal(viaKubeconfig.code, 0, viaKubeconfig.stderr);
    assert.match(viaKubeconfig.stderr, /cascade 1\/2 lab: scaling up/);
    assert.ok(!viaKubeconfig.stderr.includes(token) && !viaKubeconfig.stdout.includes(token), 'the token never reaches output');
    assert.deepEqual([...new Set(readRecords(join(root, 'results-sa')).map((record) => record.instance))].sort(), ['lab', 'prod']);
    assert.equal(specReplicas(lab, 'statefulset/lab-sts'), 0);
    assert.equal(annotationOf(lab, 'statefulset/lab-sts'), '');

    // In a pod: no kubeconfig, the ServiceAccount files and KUBERNETES_SERVICE_* (the prefix stands in for the pod's root).
    const saRoot = join(root, 'pod-root');
    const saDir = join(saRoot, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(saDir, { recursive: true });
    writeFileSync(join(saDir, 'token'), token);
    writeFileSync(join(saDir, 'ca.crt'), readFileSync(kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.certificate-authority}'])));
    writeFileSync(join(saDir, 'namespace'), jobs);
    const inCluster = await runCli(['cascade', '--config', configFile, '--results-dir', join(root, 'results-pod'), ...DATA], {
      cwd: root,
      env: { KUBECONFIG: '', HOME: root, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(process.env.DEDUP_LAB_K8S_SERVER ?? 'https://127.0.0.1:56443').port, DEDUP_LAB_K8S_SA_ROOT: saRoot },
    });
    assert.equal(inCluster.code, 0, inCluster.stderr);
    assert.match(inCluster.stderr, /cluster access through in-cluster ServiceAccount/);
    assert.equal(specReplicas(lab, 'statefulset/lab-sts'), 0);
  });

  it('a workload the ServiceAccount may not scale: one line with the verb, the workload and HTTP 403', async () => {
    const { file } = tokenKubeconfig(root, jobs, 'dedup-lab');
    const other = join(root, 'other.yaml');
    writeFileSync(other, stringify({ dataDir: join(root, 'data'), systems: [{ id: 'sqlite', instance: 'other', options: { dataDir: join(root, 'other') }, k8s: { namespace: lab, workload: 'statefulset/other-sts', replicasUp: 1 } }] }));
    const result = await runCli(['cascade', '--config', other, '--results-dir', join(root, 'results-403'), ...DATA], { cwd: root, env: { KUBECONFIG: file } });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`error: cascade 1/1 other: kubernetes: cannot get scale of statefulset/other-sts in namespace ${lab}: HTTP 403 \\([^\\n]*forbidden[^\\n]*\\)\\n`));
    assert.equal(specReplicas(lab, 'statefulset/other-sts'), 0);
  });

  it('volumes: auto resolves the pods\' PVCs to their Longhorn volumes', async () => {
    const pv = `pvc-${lab}`;
    apply([
      { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: pv }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'longhorn', claimRef: { namespace: lab, name: 'data-vol-0' }, csi: { driver: 'driver.longhorn.io', volumeHandle: `${pv}-longhorn` } } },
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data-vol-0', namespace: lab }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'longhorn', volumeName: pv, resources: { requests: { storage: '1Gi' } } } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'volpod', namespace: lab, labels: { app: 'vol' } }, spec: { nodeName: 'kwok-node-0', containers: [{ name: 'c', image: 'registry.invalid/x:1' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-vol-0' } }] } },
      // The Deployment's ReplicaSet selector carries pod-template-hash, so the bare pod is not adopted (and deleted).
      deployment(lab, 'vol', 0),
    ]);
    const cluster = await connectCluster({});
    const ref = workloadRef({ namespace: lab, workload: 'deployment/vol', production: false }, 'test');
    const volumes = await resolveVolumes(cluster, ref);
    assert.deepEqual(volumes, [`${pv}-longhorn`]);
    assert.equal(volumesQuery(volumes), `sum(longhorn_volume_actual_size_bytes{volume=~"^(${pv}-longhorn)$"})`);
    kubectl(['delete', 'pv', pv, '--wait=false']);
  });
});
