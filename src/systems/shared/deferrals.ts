/**
 * Parsers and decisions behind the declared deferrals of SPEC §6.4 for SeaweedFS (the S3
 * stand-in), InnoDB purge and CockroachDB's GC TTL. Pure: the adapters do the I/O.
 */
import type { Deferral } from '../types.js';

/** SeaweedFS master defaults (`weed master -h` of the version scripts/services.sh builds); the master's HTTP API does not expose them. */
export const SEAWEEDFS_DEFAULT_GARBAGE_THRESHOLD = 0.3;
export const SEAWEEDFS_DEFAULT_VACUUM_INTERVAL_S = 840;

/**
 * The filer removes a deleted or overwritten object's chunks from the volumes in the background,
 * so the garbage the vacuum decision reads appears a moment after the S3 call returned (observed:
 * 940 ms on the test services). The watch waits this long before it believes a garbage level.
 */
export const SEAWEEDFS_FILER_DELETION: Deferral = { name: 'seaweedfs filer chunk deletion', durationMs: 3_000, source: 'SeaweedFS filer background deletion queue (not readable; 3 s allowance)' };

/** One volume of a volume server's `/status`, the fields the vacuum decision uses. */
export interface SeaweedVolume {
  collection: string;
  size: number;
  deletedBytes: number;
  deletedCount: number;
}

function volumeOf(raw: unknown): SeaweedVolume | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const entry = raw as Record<string, unknown>;
  if (typeof entry.Size !== 'number' || typeof entry.DeletedByteCount !== 'number') return null;
  return { collection: typeof entry.Collection === 'string' ? entry.Collection : '', size: entry.Size, deletedBytes: entry.DeletedByteCount, deletedCount: typeof entry.DeleteCount === 'number' ? entry.DeleteCount : 0 };
}

/**
 * The volume servers in the master's `/dir/status` (`Topology.DataCenters[].Racks[].DataNodes[].Url`).
 * Their own `/status` is read rather than the master's `/vol/status`, which only knows what the
 * last heartbeat carried.
 */
export function seaweedDataNodes(dirStatus: unknown): string[] {
  const dataCenters = (dirStatus as { Topology?: { DataCenters?: unknown } } | null)?.Topology?.DataCenters;
  if (!Array.isArray(dataCenters)) throw new Error('SeaweedFS /dir/status: no Topology.DataCenters in the answer');
  const racks = dataCenters.flatMap((dataCenter: { Racks?: unknown }) => (Array.isArray(dataCenter?.Racks) ? dataCenter.Racks : []));
  const nodes = racks.flatMap((rack: { DataNodes?: unknown }) => (Array.isArray(rack?.DataNodes) ? rack.DataNodes : []));
  return nodes.flatMap((node: { Url?: unknown }) => (typeof node?.Url === 'string' ? [node.Url] : []));
}

/** Every volume in a volume server's `/status` (`Volumes: [volume …]`). */
export function seaweedVolumes(status: unknown): SeaweedVolume[] {
  const volumes = (status as { Volumes?: unknown } | null)?.Volumes;
  if (!Array.isArray(volumes)) throw new Error('SeaweedFS volume server /status: no Volumes in the answer');
  return volumes.flatMap((raw) => volumeOf(raw) ?? []);
}

/** The volume server's garbage level: deleted bytes / content size (all of it when deletions are counted but not sized). */
export function garbageLevel(volume: SeaweedVolume): number {
  if (volume.size <= 0) return 0;
  const deleted = volume.deletedCount > 0 && volume.deletedBytes === 0 ? volume.size : volume.deletedBytes;
  return deleted / volume.size;
}

/** Whether the automatic vacuum will compact some volume of the collection: its garbage is above the threshold. */
export function collectionAwaitsVacuum(volumes: readonly SeaweedVolume[], collection: string, threshold: number): boolean {
  return volumes.some((volume) => volume.collection === collection && garbageLevel(volume) > threshold);
}

/** The master's next automatic sweep compacts it: at most one interval after the stage. */
export function seaweedVacuumDeferral(intervalS: number, threshold: number, fromOptions: boolean, stillPending: () => Promise<boolean>): Deferral {
  const setting = `-master.vacuumIntervalSeconds ${intervalS}, -master.garbageThreshold ${threshold}`;
  return {
    name: 'seaweedfs vacuum',
    durationMs: intervalS * 1000,
    source: `${fromOptions ? 'options' : 'SeaweedFS defaults'} (${setting}; not readable over the master's HTTP API); garbage levels from the volume servers' /status`,
    stillPending,
  };
}

/** InnoDB's purge history list length from INNODB_METRICS, null when the metric is absent. */
export function historyLength(rows: readonly { n: number | string | bigint | null }[]): number | null {
  const value = rows[0]?.n;
  if (value === undefined || value === null) return null;
  const length = Number(value);
  return Number.isFinite(length) ? length : null;
}

/**
 * Purge runs continuously and usually empties the history in seconds: no fixed duration (0), the
 * watch continues while the history is non-empty, bounded by the probe's settle timeout.
 */
export function innodbPurgeDeferral(length: number | null, stillPending: () => Promise<boolean>): Deferral[] {
  if (length === null || length <= 0) return [];
  return [{ name: 'innodb purge', durationMs: 0, source: `information_schema.INNODB_METRICS trx_rseg_history_len = ${length} (bounded by the probe's settle timeout)`, stillPending }];
}

/** CockroachDB's default gc.ttlseconds since v23.1 (4 h); older versions used 25 h (90 000 s). */
export const COCKROACH_DEFAULT_GC_TTL_S = 14_400;

/** gc.ttlseconds from `SHOW ZONE CONFIGURATION FROM …`'s raw_config_sql, null when it does not say. */
export function gcTtlFromZoneSql(rawConfigSql: string): number | null {
  const match = /\bgc\.ttlseconds\s*=\s*(\d+)/i.exec(rawConfigSql);
  return match ? Number(match[1]) : null;
}

/** MVCC garbage of deleted rows becomes collectable only once the TTL has passed: never sooner. */
export function gcTtlDeferral(ttlSeconds: number | null, from: string): Deferral {
  const seconds = ttlSeconds ?? COCKROACH_DEFAULT_GC_TTL_S;
  const source = ttlSeconds === null ? `CockroachDB default (${COCKROACH_DEFAULT_GC_TTL_S} s since v23.1; 90000 s before), ${from} did not say` : from;
  return { name: 'GC TTL', durationMs: seconds * 1000, source, notBefore: true };
}
