/**
 * Helpers for tests against the real control plane of `scripts/services.sh up k8s` (kube-apiserver,
 * etcd, controller-manager, scheduler, kwok): kubectl, namespaces, workloads whose pods kwok makes
 * Ready, and a stand-in for the Strimzi operator (no operator runs here: a KafkaNodePool's replicas
 * become pods only through this loop).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const KUBECTL = process.env.DEDUP_LAB_KUBECTL ?? '';
export const KUBECONFIG = process.env.KUBECONFIG ?? '';
if (!KUBECTL || !KUBECONFIG) throw new Error('KUBECONFIG and DEDUP_LAB_KUBECTL are not set: run through scripts/test.sh (it brings the k8s service up and evals `services.sh env`)');

export function kubectl(args: string[], input?: string, kubeconfig: string = KUBECONFIG): string {
  return execFileSync(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

export function apply(objects: object[]): void {
  kubectl(['apply', '-f', '-'], objects.map((object) => stringify(object)).join('---\n'));
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export function createNamespace(prefix: string): string {
  const name = uniqueName(prefix);
  kubectl(['create', 'namespace', name]);
  return name;
}

export function deleteNamespace(name: string): void {
  kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
}

const podTemplate = (app: string) => ({ metadata: { labels: { app } }, spec: { containers: [{ name: 'server', image: 'registry.invalid/fake:1' }] } });

export function statefulSet(namespace: string, name: string, replicas: number) {
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name, namespace }, spec: { replicas, serviceName: name, selector: { matchLabels: { app: name } }, template: podTemplate(name) } };
}

export function deployment(namespace: string, name: string, replicas: number) {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec: { replicas, selector: { matchLabels: { app: name } }, template: podTemplate(name) } };
}

/** A KafkaNodePool-like CRD with the scale subresource Strimzi's has. */
export function ensureKafkaNodePoolCrd(): void {
  apply([
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'kafkanodepools.kafka.strimzi.io' },
      spec: {
        group: 'kafka.strimzi.io',
        scope: 'Namespaced',
        names: { kind: 'KafkaNodePool', plural: 'kafkanodepools', singular: 'kafkanodepool', listKind: 'KafkaNodePoolList' },
        versions: [
          {
            name: 'v1beta2',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.labelSelector' } },
          },
        ],
      },
    },
  ]);
  kubectl(['wait', '--for=condition=Established', 'crd/kafkanodepools.kafka.strimzi.io', '--timeout=60s']);
}

export function kafkaNodePool(namespace: string, name: string, replicas: number) {
  return { apiVersion: 'kafka.strimzi.io/v1beta2', kind: 'KafkaNodePool', metadata: { name, namespace }, spec: { replicas, roles: ['broker', 'controller'] } };
}

/** Stand-in for the Strimzi operator: keeps one bare pod per replica of the pool (kwok makes them Ready). */
export function fakeKafkaOperator(namespace: string, pool: string): { stop(): void } {
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      try {
        const replicas = Number(kubectl(['get', 'kafkanodepool', pool, '-n', namespace, '-o', 'jsonpath={.spec.replicas}']) || '0');
        const existing = kubectl(['get', 'pods', '-n', namespace, '-l', `strimzi.io/pool-name=${pool}`, '-o', 'jsonpath={.items[*].metadata.name}']).split(' ').filter(Boolean);
        const wanted = Array.from({ length: replicas }, (_, index) => `${pool}-${index}`);
        const missing = wanted.filter((name) => !existing.includes(name));
        if (missing.length > 0) {
          apply(missing.map((name) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { 'strimzi.io/pool-name': pool } }, spec: { nodeName: 'kwok-node-0', containers: [{ name: 'kafka', image: 'registry.invalid/kafka:1' }] } })));
        }
        const extra = existing.filter((name) => !wanted.includes(name));
        if (extra.length > 0) kubectl(['delete', 'pod', '-n', namespace, '--wait=false', ...extra]);
      } catch {
        // namespace going away at the end of a test
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };
  void loop();
  return {
    stop() {
      stopped = true;
    },
  };
}

export function specReplicas(namespace: string, resource: string): number {
  return Number(kubectl(['get', resource, '-n', namespace, '-o', 'jsonpath={.spec.replicas}']));
}

export function annotationOf(namespace: string, resource: string): string {
  return kubectl(['get', resource, '-n', namespace, '-o', 'jsonpath={.metadata.annotations.dedup-lab\\.io/cascade}']);
}

export function readyPods(namespace: string, selector: string): number {
  const out = kubectl(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
  return out.split('\n').filter((line) => line === 'True').length;
}

export function generation(namespace: string, resource: string): number {
  return Number(kubectl(['get', resource, '-n', namespace, '-o', 'jsonpath={.metadata.generation}']));
}

/** A kubeconfig that authenticates with a ServiceAccount token (what a pod of the Job gets). */
export function tokenKubeconfig(dir: string, namespace: string, serviceAccount: string): { file: string; token: string } {
  const token = kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration=1h']).trim();
  const server = kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}']);
  const ca = kubectl(['config', 'view', '--minify', '--raw', '-o', 'jsonpath={.clusters[0].cluster.certificate-authority}']);
  const file = join(dir, `${serviceAccount}.kubeconfig`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server, 'certificate-authority': ca } }],
      users: [{ name: 'sa', user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa' } }],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  return { file, token };
}
