/**
 * Scaling one workload through its scale subresource (any kind that has one), the crash-safety
 * annotation on the workload, and waiting — by watching, not sleeping — for its pods.
 */
import { apiCall, type Cluster } from './client.js';
import { CASCADE_ANNOTATION, describeWorkload, parseScaleRecord, readyPodCount, type PodState, type ScaleRecord, type WorkloadRef } from './workload.js';

export interface ScaleState {
  replicas: number;
  /** Label selector of the pods, as the scale subresource reports it ('' when unknown). */
  selector: string;
}

function coordinates(ref: WorkloadRef) {
  return { group: ref.group, version: ref.version, namespace: ref.namespace, plural: ref.resource, name: ref.name };
}

async function mergePatchOptions(cluster: Cluster) {
  return cluster.k8s.setHeaderOptions('Content-Type', cluster.k8s.PatchStrategy.MergePatch);
}

export async function readScale(cluster: Cluster, ref: WorkloadRef): Promise<ScaleState> {
  // The client's typing of a custom object is `any`; the scale subresource is autoscaling/v1 Scale.
  const scale = (await apiCall(`scale of ${describeWorkload(ref)}`, 'get', () => cluster.custom.getNamespacedCustomObjectScale(coordinates(ref)))) as {
    spec?: { replicas?: number };
    status?: { selector?: string };
  };
  return { replicas: scale.spec?.replicas ?? 0, selector: scale.status?.selector ?? '' };
}

export async function setScale(cluster: Cluster, ref: WorkloadRef, replicas: number): Promise<void> {
  const options = await mergePatchOptions(cluster);
  await apiCall(`scale of ${describeWorkload(ref)}`, 'patch', () => cluster.custom.patchNamespacedCustomObjectScale({ ...coordinates(ref), body: { spec: { replicas } } }, options));
}

export async function readScaleRecord(cluster: Cluster, ref: WorkloadRef): Promise<ScaleRecord | null> {
  const object = (await apiCall(describeWorkload(ref), 'get', () => cluster.custom.getNamespacedCustomObject(coordinates(ref)))) as {
    metadata?: { annotations?: Record<string, string> };
  };
  return parseScaleRecord(object.metadata?.annotations?.[CASCADE_ANNOTATION]);
}

/** Write (record) or remove (null) the annotation; a merge patch touches nothing else. */
export async function writeScaleRecord(cluster: Cluster, ref: WorkloadRef, record: ScaleRecord | null): Promise<void> {
  const options = await mergePatchOptions(cluster);
  const body = { metadata: { annotations: { [CASCADE_ANNOTATION]: record === null ? null : JSON.stringify(record) } } };
  await apiCall(describeWorkload(ref), record === null ? 'remove the cascade annotation of' : 'annotate', () => cluster.custom.patchNamespacedCustomObject({ ...coordinates(ref), body }, options));
}

function podStateOf(pod: { metadata?: { name?: string; deletionTimestamp?: unknown }; status?: { conditions?: { type: string; status: string }[] } }): PodState {
  return {
    name: pod.metadata?.name ?? '',
    ready: pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true,
    deleting: pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
  };
}

export interface PodCounts {
  total: number;
  ready: number;
}

/**
 * Resolve when `done(counts)` holds for the pods matching `selector`: list once, then watch from
 * that list's resourceVersion (re-listing when the server ends the watch). Rejects on timeout/abort.
 */
export async function waitForPods(cluster: Cluster, ref: WorkloadRef, selector: string, done: (counts: PodCounts) => boolean, timeoutS: number, signal: AbortSignal): Promise<PodCounts> {
  const what = `pods of ${describeWorkload(ref)} (selector ${selector})`;
  const pods = new Map<string, PodState>();
  const counts = (): PodCounts => ({ total: [...pods.values()].filter((pod) => !pod.deleting).length, ready: readyPodCount(pods.values()) });
  const deadline = Date.now() + timeoutS * 1000;
  let watch: AbortController | undefined;
  return new Promise<PodCounts>((resolve, reject) => {
    let finished = false;
    const finish = (error: Error | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      watch?.abort();
      if (error) reject(error);
      else resolve(counts());
    };
    const timer = setTimeout(() => finish(new Error(`${what}: condition not reached within ${timeoutS} s (${counts().ready} of ${counts().total} Ready)`)), Math.max(0, deadline - Date.now()));
    const onAbort = () => finish(new Error(`${what}: interrupted while waiting`));
    signal.addEventListener('abort', onAbort);
    const listAndWatch = async (): Promise<void> => {
      const list = await apiCall(what, 'list', () => cluster.core.listNamespacedPod({ namespace: ref.namespace, labelSelector: selector }));
      pods.clear();
      for (const pod of list.items) pods.set(pod.metadata?.name ?? '', podStateOf(pod));
      if (done(counts())) return finish(null);
      if (finished) return;
      watch = await new cluster.k8s.Watch(cluster.kubeConfig).watch(
        `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/pods`,
        { labelSelector: selector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
        (phase, pod: Parameters<typeof podStateOf>[0]) => {
          const state = podStateOf(pod);
          if (phase === 'DELETED') pods.delete(state.name);
          else if (phase === 'ADDED' || phase === 'MODIFIED') pods.set(state.name, state);
          if (done(counts())) finish(null);
        },
        // The server ends watches after a while (or the resourceVersion expired): list again.
        () => {
          if (!finished) setTimeout(restart, 200);
        },
      );
    };
    const restart = () => {
      listAndWatch().catch((error: unknown) => finish(error instanceof Error ? error : new Error(String(error))));
    };
    restart();
  });
}
