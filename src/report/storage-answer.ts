/**
 * The answer table's third column (SPEC §12): what share of the ideal the storage layer under a
 * system recovers that the system itself did not, at the most duplicated grade with a
 * `storage_dedup` record. Measured on the real layer when duperemove ran on one (the `storage`
 * probe after the pass), simulated otherwise (the system's own EDR × the 4 KiB block dedup ratio
 * of its data files), and saying which.
 */
import type { StageRecord } from '../experiment/record.js';
import { MISSING, systemLabel } from './summary.js';

export interface StorageAnswer {
  source: 'real' | 'simulated';
  /** What the simulation covered (absent in records before lab-scoped simulation). */
  scope?: 'lab-files' | 'data-dir';
  /** EDR with the storage layer's dedup: logical / what the layer keeps. */
  edr: number;
  ideal: number;
  fsType: string;
}

/** ln(EDR) / ln(ideal): the same measure of "share of the ideal" as the verdict (0 = none, 1 = all). */
export function shareOfIdeal(edr: number, ideal: number): number | null {
  if (!(edr > 0) || !(ideal > 1)) return null;
  return Math.log(edr) / Math.log(ideal);
}

const keyOf = (record: StageRecord): string => [systemLabel(record), record.variant, record.mode, record.payloadType].join('\u0000');

/** The storage layer's answer from one storage_dedup record, or null when it has neither reading. */
export function storageAnswerOf(record: StageRecord, systemEdr: number | null): StorageAnswer | null {
  const info = record.storage;
  if (!info) return null;
  const fsType = info.fileSystems[0]?.fsType ?? 'unknown';
  const probe = record.probes.find((candidate) => candidate.name === 'storage');
  if ('tool' in info.offlineDedup && probe && probe.after !== null && probe.baseline !== null && probe.after > probe.baseline) {
    return { source: 'real', edr: record.storedLogicalBytes / (probe.after - probe.baseline), ideal: record.idealEdr, fsType };
  }
  const block = info.simulated?.units.find((unit) => unit.unit === '4KiB');
  if (!block || systemEdr === null) return null;
  const scope = info.simulated?.scope;
  return { source: 'simulated', edr: systemEdr * block.dedupRatio, ideal: record.idealEdr, fsType, ...(scope ? { scope } : {}) };
}

export function formatStorageAnswer(answer: StorageAnswer | null): string {
  if (!answer) return MISSING;
  const share = shareOfIdeal(answer.edr, answer.ideal);
  const percent = share === null ? MISSING : `${Math.round(Math.max(0, share) * 100)} %`;
  const scope = answer.scope ? `, ${answer.scope === 'lab-files' ? 'lab files' : 'whole data dir'}` : '';
  const how = answer.source === 'real' ? `real ${answer.fsType}+duperemove` : `simulated 4 KiB blocks${scope}`;
  return `${percent} (EDR ${answer.edr.toFixed(2)}, ${how})`;
}

/**
 * The column for verdictCells, or null when no record has a storage_dedup stage. `systemEdrOf`
 * gives the system's own EDR at a grade (bulk_insert, else compaction) for the simulated case.
 */
export function storageAnswerColumn(records: readonly StageRecord[]): ((row: { system: string; variant: string; mode: string; payloadType: string }) => string) | null {
  const stageRecords = records.filter((record) => record.stage === 'storage_dedup' && record.storage && !record.error);
  if (stageRecords.length === 0) return null;
  const best = new Map<string, StageRecord>();
  for (const record of stageRecords) {
    const key = keyOf(record);
    const current = best.get(key);
    if (!current || record.idealEdr > current.idealEdr) best.set(key, record);
  }
  const systemEdr = (record: StageRecord): number | null => {
    const own = records.filter((other) => keyOf(other) === keyOf(record) && other.grade === record.grade && !other.error && other.edr !== null);
    return (own.find((other) => other.stage === 'compaction') ?? own.find((other) => other.stage === 'bulk_insert'))?.edr ?? null;
  };
  return (row) => {
    const record = best.get([row.system, row.variant, row.mode, row.payloadType].join('\u0000'));
    return record ? `${record.grade}: ${formatStorageAnswer(storageAnswerOf(record, systemEdr(record)))}` : MISSING;
  };
}
