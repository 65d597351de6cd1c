/**
 * A system entry's `k8s` block (SPEC §8) turned into what the API needs: group, version, resource
 * plural and name of the workload, the replica counts with their defaults. Pure, unit-tested.
 */
import { UsageError } from '../core/errors.js';
import type { K8sTarget, SystemEntry } from '../config/schema.js';

export interface WorkloadRef {
  namespace: string;
  /** Kind as written in the API (StatefulSet, Deployment, KafkaNodePool …). */
  kind: string;
  name: string;
  group: string;
  version: string;
  /** Resource plural, e.g. `statefulsets`. */
  resource: string;
}

export interface CascadeWorkload {
  instance: string;
  ref: WorkloadRef;
  production: boolean;
  replicasUp: number;
  replicasDown: number;
  readyTimeoutS: number;
  podSelector: string | undefined;
}

interface KnownKind {
  kind: string;
  group: string;
  version: string;
  resource: string;
}

/** Kinds reachable without `apiVersion`; every other kind with a scale subresource names it. */
export const KNOWN_KINDS: Record<string, KnownKind> = {
  statefulset: { kind: 'StatefulSet', group: 'apps', version: 'v1', resource: 'statefulsets' },
  deployment: { kind: 'Deployment', group: 'apps', version: 'v1', resource: 'deployments' },
  replicaset: { kind: 'ReplicaSet', group: 'apps', version: 'v1', resource: 'replicasets' },
  kafkanodepool: { kind: 'KafkaNodePool', group: 'kafka.strimzi.io', version: 'v1beta2', resource: 'kafkanodepools' },
};

export const DEFAULT_READY_TIMEOUT_S = 600;

/** `statefulset/postgres` or `{kind, name, apiVersion?, resource?}` → the API coordinates. */
export function workloadRef(target: K8sTarget, where: string): WorkloadRef {
  const spec = typeof target.workload === 'string' ? { kind: target.workload.split('/')[0] ?? '', name: target.workload.split('/')[1] ?? '' } : target.workload;
  const known = KNOWN_KINDS[spec.kind.toLowerCase()];
  const apiVersion = 'apiVersion' in spec ? spec.apiVersion : undefined;
  const resource = 'resource' in spec ? spec.resource : undefined;
  if (apiVersion === undefined && known === undefined) {
    throw new UsageError(`${where}.workload: kind ${JSON.stringify(spec.kind)} needs apiVersion (group/version); kinds known without it: ${Object.values(KNOWN_KINDS).map((k) => k.kind).join(', ')}`);
  }
  const [group, version] = apiVersion ? (apiVersion.split('/') as [string, string]) : [known!.group, known!.version];
  return {
    namespace: target.namespace,
    kind: known?.kind ?? spec.kind,
    name: spec.name,
    group,
    version,
    resource: resource ?? known?.resource ?? `${spec.kind.toLowerCase()}s`,
  };
}

/** The cascade's view of one system entry, or null when it has no `k8s` block. Production asking to be scaled is a usage error. */
export function cascadeWorkload(entry: SystemEntry, index: number): CascadeWorkload | null {
  const target = entry.k8s;
  if (!target) return null;
  const where = `config systems[${index}].k8s`;
  const instance = entry.instance ?? entry.id;
  if (target.production && (target.replicasUp !== undefined || target.replicasDown !== undefined)) {
    throw new UsageError(`${where}: ${instance} is production: true, which is never scaled; remove replicasUp/replicasDown (valid for production: none)`);
  }
  const replicasUp = target.replicasUp ?? 1;
  const replicasDown = target.replicasDown ?? 0;
  if (replicasDown >= replicasUp && !target.production) {
    throw new UsageError(`${where}: replicasDown ${replicasDown} must be below replicasUp ${replicasUp}`);
  }
  return {
    instance,
    ref: workloadRef(target, where),
    production: target.production,
    replicasUp,
    replicasDown,
    readyTimeoutS: target.readyTimeoutS ?? target.readyTimeoutSeconds ?? DEFAULT_READY_TIMEOUT_S,
    podSelector: target.podSelector,
  };
}

export function describeWorkload(ref: WorkloadRef): string {
  return `${ref.kind.toLowerCase()}/${ref.name} in namespace ${ref.namespace}`;
}

/** Annotation that records a scale-up on the workload, so a later cascade can undo it after a crash. */
export const CASCADE_ANNOTATION = 'dedup-lab.io/cascade';

export interface ScaleRecord {
  runId: string;
  /** Replica count to scale back to. */
  restoreReplicas: number;
  /** Replica count the workload had before the scale-up (for the operator's information). */
  previousReplicas: number;
  scaledAt: string;
}

/** Parse the annotation's value; null when absent or not ours (never throws on foreign content). */
export function parseScaleRecord(value: string | undefined): ScaleRecord | null {
  if (value === undefined) return null;
  try {
    const parsed = JSON.parse(value) as Partial<ScaleRecord>;
    if (typeof parsed.runId !== 'string' || !Number.isInteger(parsed.restoreReplicas) || (parsed.restoreReplicas as number) < 0) return null;
    return { runId: parsed.runId, restoreReplicas: parsed.restoreReplicas as number, previousReplicas: Number(parsed.previousReplicas ?? 0), scaledAt: String(parsed.scaledAt ?? '') };
  } catch {
    return null;
  }
}

/** Pods that count as Ready: condition Ready=True and not being deleted. Pure. */
export interface PodState {
  name: string;
  ready: boolean;
  deleting: boolean;
}

export function readyPodCount(pods: Iterable<PodState>): number {
  let count = 0;
  for (const pod of pods) if (pod.ready && !pod.deleting) count += 1;
  return count;
}
