/**
 * `probes.prometheus.volumes: auto` (SPEC §8): the workload's pods → their PVCs → the bound PVs →
 * the Longhorn volume names, and the summed PromQL over exactly those volumes. The replica count
 * (copies Longhorn keeps) comes from the config, as for a hand-written query.
 */
import type { PrometheusProbeConfig, SystemEntry } from '../config/schema.js';
import type { Probe } from '../systems/types.js';
import { apiCall, connectCluster, type Cluster } from './client.js';
import { readScale } from './scale.js';
import { describeWorkload, workloadRef, type WorkloadRef } from './workload.js';

export const DEFAULT_VOLUME_METRIC = 'longhorn_volume_actual_size_bytes';
const VOLUME_NAME = /^[a-z0-9][a-z0-9.-]{0,252}$/;

/** `sum(metric{volume=~"^(a|b)$"})`; names are checked so nothing can break out of the regex. Pure. */
export function volumesQuery(volumes: readonly string[], metric: string = DEFAULT_VOLUME_METRIC): string {
  if (volumes.length === 0) throw new Error('no volumes to sum');
  for (const name of volumes) if (!VOLUME_NAME.test(name)) throw new Error(`volume name ${JSON.stringify(name)} is not a Kubernetes/Longhorn name`);
  const alternatives = [...new Set(volumes)].sort().map((name) => name.replace(/\./g, '\\\\.'));
  return `sum(${metric}{volume=~"^(${alternatives.join('|')})$"})`;
}

/** A PV's Longhorn volume: the CSI volume handle of driver.longhorn.io, else the PV's own name (Longhorn names them alike). */
export function longhornVolumeOf(pv: { metadata?: { name?: string }; spec?: { csi?: { driver?: string; volumeHandle?: string } } }): string {
  const csi = pv.spec?.csi;
  if (csi?.driver === 'driver.longhorn.io' && csi.volumeHandle) return csi.volumeHandle;
  return pv.metadata?.name ?? '';
}

/** The Longhorn volume names behind the workload's pods' claims. */
export async function resolveVolumes(cluster: Cluster, ref: WorkloadRef, podSelector?: string): Promise<string[]> {
  const selector = (await readScale(cluster, ref)).selector || podSelector;
  if (!selector) throw new Error(`${describeWorkload(ref)}: no pod selector to find its volumes`);
  const pods = await apiCall(`pods of ${describeWorkload(ref)}`, 'list', () => cluster.core.listNamespacedPod({ namespace: ref.namespace, labelSelector: selector }));
  const claims = new Set<string>();
  for (const pod of pods.items) for (const volume of pod.spec?.volumes ?? []) if (volume.persistentVolumeClaim?.claimName) claims.add(volume.persistentVolumeClaim.claimName);
  if (claims.size === 0) throw new Error(`${describeWorkload(ref)}: its ${pods.items.length} pods mount no PersistentVolumeClaim`);
  const volumes: string[] = [];
  for (const claim of [...claims].sort()) {
    const pvc = await apiCall(`persistentvolumeclaim/${claim} in namespace ${ref.namespace}`, 'get', () => cluster.core.readNamespacedPersistentVolumeClaim({ namespace: ref.namespace, name: claim }));
    const pvName = pvc.spec?.volumeName;
    if (!pvName) throw new Error(`persistentvolumeclaim/${claim} in namespace ${ref.namespace} is not bound to a volume yet`);
    const pv = await apiCall(`persistentvolume/${pvName}`, 'get', () => cluster.core.readPersistentVolume({ name: pvName }));
    volumes.push(longhornVolumeOf(pv));
  }
  return volumes;
}

let clusterContext: string | undefined;
/** `cascade --context` applies to volume resolution too. */
export function setVolumesContext(context: string | undefined): void {
  clusterContext = context;
}

/** The runner's hook: a Prometheus probe with the configured query, or with the one `volumes: auto` builds. */
export async function prometheusProbeFor(entry: SystemEntry, config: PrometheusProbeConfig): Promise<Probe> {
  const { prometheusProbe } = await import('../measure/probes/prometheus.js');
  if (config.query !== undefined) return prometheusProbe({ ...config, query: config.query });
  try {
    if (!entry.k8s) throw new Error('volumes: auto needs the entry\'s k8s block (namespace and workload)');
    const cluster = await connectCluster({ context: clusterContext });
    const volumes = await resolveVolumes(cluster, workloadRef(entry.k8s, `${entry.instance ?? entry.id}.k8s`), entry.k8s.podSelector);
    return prometheusProbe({ ...config, query: volumesQuery(volumes, config.volumeMetric) });
  } catch (error) {
    // A probe that cannot be built records every read as missing, with the reason — never a number.
    const reason = `volumes: auto: ${error instanceof Error ? error.message : String(error)}`;
    return { name: 'prometheus', layer: 'storage', replicas: config.replicas, settleTimeoutMs: config.settleTimeoutMs, pollIntervalMs: config.pollIntervalMs, read: async () => ({ bytes: null, error: reason }) };
  }
}
