/**
 * The probe names each system can produce (SPEC §6.2), so `probes.primary` is checked before a run
 * starts instead of the matrix running without a headline EDR. Keep in step with each adapter's
 * `probes()`: a name missing here is refused as a primary probe. `fs` and `prometheus` come from
 * the runner when configured (see `primaryProbeCandidates`).
 */
import { UsageError } from '../../core/errors.js';
import type { SystemEntry } from '../../config/schema.js';

export const ADAPTER_PROBE_NAMES: Readonly<Record<string, readonly string[]>> = {
  postgresql: ['internal', 'lab_fs', 'log_fs'],
  cockroachdb: ['internal'],
  mariadb: ['internal', 'tablespace', 'tablespace_file', 'lab_fs', 'log_fs'],
  clickhouse: ['internal', 'lab_fs'],
  redis: ['internal', 'memory'],
  kafka: ['internal', 'lab_fs'],
  minio: ['internal', 'minio_metrics', 'lab_fs'],
  nats: ['internal', 'lab_fs'],
  pglite: ['internal'],
  sqlite: ['internal', 'dbstat', 'lab_fs', 'log_fs'],
  duckdb: ['internal', 'lab_fs', 'log_fs'],
  chdb: ['internal', 'lab_fs'],
};

/** Names a system entry's probes.primary may take. `fs` without paths counts: the adapter may give local paths. */
export function primaryProbeCandidates(systemId: string, entry: SystemEntry): string[] {
  const names = [...(ADAPTER_PROBE_NAMES[systemId] ?? ['internal'])];
  // `storage` (src/storage/stage.ts) exists where the data paths sit on a file system of their own.
  if (entry.probes.fs?.enabled !== false) names.push('fs', 'storage');
  if (entry.probes.prometheus) names.push('prometheus');
  return names;
}

export function checkPrimaryProbe(systemId: string, instance: string, entry: SystemEntry): void {
  const valid = primaryProbeCandidates(systemId, entry);
  const primary = entry.probes.primary;
  // No primary configured: the deepest layer measured decides (src/measure/layers.ts).
  if (primary !== undefined && !valid.includes(primary)) {
    throw new UsageError(`unknown probes.primary ${JSON.stringify(primary)} for system ${instance}; valid: ${valid.join(', ')}`);
  }
}
