/**
 * "Where does deduplication happen?" — the research question answered per system, variant, mode
 * and payload type, from the same records as the detailed table:
 *
 * - compression factor c = EDR of the grade with ideal EDR 1 (U0): what the system does to unique
 *   bytes (compression above 1, overhead below);
 * - at the most duplicated grade (largest ideal EDR), the dedup factor d = EDR / c, and the share
 *   of the possible dedup it reached on a log scale, ln d / ln ideal: 0 = every copy costs full
 *   space, 1 = only the unique bytes are stored. Taken after bulk_insert (ingest) and after
 *   compaction (at rest), so dedup by merges or log compaction shows as such;
 * - reclamation: the share of the physical bytes the per-file inserts added that perfile_delete,
 *   and then maintenance, gave back.
 *
 * Log scale because EDR is a ratio: at U90 (ideal ≈ 10) a system storing every copy half as big
 * would reach EDR 2, which is ln 2 / ln 10 = 30 % of the way, not 11 %.
 */
import type { ProbeResult, StageRecord } from '../experiment/record.js';
import type { ProbeLayer, StageName } from '../systems/types.js';
import { bestProbe } from '../measure/layers.js';
import { variantWithDimensions } from './dimensions.js';
import { aggregate } from './stats.js';
import { alignedTable, markdownTable, MISSING, systemLabel } from './summary.js';
import { engineLabel } from './engine.js';
import { storageAnswerColumn } from './storage-answer.js';

/** Share of the possible dedup from which a system counts as deduplicating / partly. */
export const FULL_DEDUP_SHARE = 0.8;
export const PARTIAL_DEDUP_SHARE = 0.15;
/** A grade must offer at least this ideal EDR for the share to be measurable at all. */
export const MIN_JUDGEABLE_IDEAL = 1.5;
/** Compaction changes an EDR when it moves it by more than this factor. */
const COMPACTION_CHANGE = 1.05;

export interface GradeEdr {
  grade: string;
  ideal: number;
  /** Mean EDR over repetitions after bulk_insert / after compaction, null when not measured. */
  ingest: number | null;
  atRest: number | null;
}

export interface DedupVerdict {
  system: string;
  /** The engine version the records carry (engineLabel), e.g. `ClickHouse 26.7.2.1`. */
  engine: string | null;
  variant: string;
  mode: string;
  payloadType: string;
  grades: GradeEdr[];
  /** EDR at ideal 1 (U0), at rest: compression (> 1) or overhead (< 1). Null without a U0 grade. */
  compression: number | null;
  /** Share of the possible dedup at the most duplicated grade, after ingest and at rest. */
  ingestShare: number | null;
  atRestShare: number | null;
  /** Share of the physical bytes of the per-file inserts freed by the deletes, and after maintenance (headline probe). */
  freedByDelete: number | null;
  freedAfterMaintenance: number | null;
  /** The same shares in the system layer (space the system can reuse) and the storage layer (space given back to the disk). */
  freedInside: FreedShares;
  returned: FreedShares;
  /** The layer the EDRs and the verdict come from (SPEC §6.2); null for records without layers. */
  layer: ProbeLayer | null;
  /** Where another layer's EDR differs by more than 10 % at the judged grade: the reasons. */
  layerGaps: string[];
  /** Where dedup happens, held to the physical layer. */
  verdict: string;
  /** What deleting did in each layer, in words ('' when nothing notable). */
  reclaim: string;
}

/** ln(edr / compression) / ln(ideal), or null when it cannot be judged. */
export function dedupShare(edr: number | null, compression: number | null, ideal: number): number | null {
  if (edr === null || compression === null || !(edr > 0) || !(compression > 0) || !(ideal >= MIN_JUDGEABLE_IDEAL)) return null;
  return Math.log(edr / compression) / Math.log(ideal);
}

export function classifyShare(share: number): 'dedup' | 'partial' | 'none' {
  if (share >= FULL_DEDUP_SHARE) return 'dedup';
  if (share >= PARTIAL_DEDUP_SHARE) return 'partial';
  return 'none';
}

/** The one-line answer for a row. */
export function verdictText(ingestShare: number | null, atRestShare: number | null, compression: number | null): string {
  const compressionNote = compression === null ? '' : compression >= 1.2 ? `; compresses ${compression.toFixed(1)}×` : compression <= 0.8 ? `; stores ${(1 / compression).toFixed(1)}× the bytes` : '';
  if (atRestShare === null) return `${MISSING} (needs U0 and a duplicated grade)${compressionNote}`;
  const atRest = classifyShare(atRestShare);
  const ingest = ingestShare === null ? null : classifyShare(ingestShare);
  const percent = `${Math.round(atRestShare * 100)} % of ideal`;
  let text: string;
  if (atRest === 'none') text = 'no dedup';
  else if (ingest === atRest || ingest === null) text = `${atRest === 'dedup' ? 'dedup' : 'partial dedup'} at ingest (${percent})`;
  else text = `${atRest === 'dedup' ? 'dedup' : 'partial dedup'} at compaction (${percent}; ${ingestShare === null ? MISSING : Math.round(ingestShare * 100)} % at ingest)`;
  return text + compressionNote;
}

/** Mean of the measured values; null when none was measured. */
const meanOf = (values: (number | null)[]): number | null => aggregate(values)?.mean ?? null;

/** Mean EDR after a stage; an implausible EDR is a probe or adapter problem, never a result. */
function edrAfter(records: readonly StageRecord[], stage: StageName): number | null {
  return meanOf(records.filter((record) => record.stage === stage && !record.error && record.edrFlag.status !== 'implausible').map((record) => record.edr));
}

export interface FreedShares {
  byDelete: number | null;
  afterMaintenance: number | null;
}

type SpaceOf = (record: StageRecord) => Pick<ProbeResult, 'reclaimedBytes' | 'residualBytes'> | null;

/** The headline probe's space numbers (the record's own fields). */
const headlineSpace: SpaceOf = (record) => record;

/** The best probe of one layer (lab-scoped first, SPEC §6.2), or null when the record has none. */
function layerSpace(layers: readonly ProbeLayer[]): SpaceOf {
  return (record) => {
    const layered = record.probes.filter((probe): probe is ProbeResult & { layer: ProbeLayer } => probe.layer !== undefined);
    for (const layer of layers) {
      const best = bestProbe(layered, layer);
      if (best) return best;
    }
    return null;
  };
}

/** Freed share over every grade and repetition that has both delete readings. */
function freedShares(records: readonly StageRecord[], spaceOf: SpaceOf = headlineSpace): FreedShares {
  const byDelete: number[] = [];
  const afterMaintenance: number[] = [];
  for (const remove of records.filter((record) => record.stage === 'perfile_delete' && !record.error)) {
    const space = spaceOf(remove);
    if (!space || space.reclaimedBytes === null || space.residualBytes === null) continue;
    const stored = space.reclaimedBytes + space.residualBytes;
    if (!(stored > 0)) continue;
    byDelete.push(space.reclaimedBytes / stored);
    const maintenance = records.find((record) => record.stage === 'maintenance' && !record.error && record.cellId === remove.cellId && record.grade === remove.grade && record.repetition === remove.repetition);
    const after = maintenance ? spaceOf(maintenance) : null;
    if (after && after.residualBytes !== null) afterMaintenance.push(1 - after.residualBytes / stored);
  }
  return { byDelete: meanOf(byDelete), afterMaintenance: meanOf(afterMaintenance) };
}

/** Freed at least this share: "gives it back"; below the lower one: "keeps it". */
const FREED_FULLY = 0.8;
const FREED_BARELY = 0.15;

/** What deleting did in each layer, in words (SPEC §6.4: deleting is not reclaiming). */
export function reclaimWording(inside: FreedShares, returned: FreedShares): string {
  const parts: string[] = [];
  if (returned.byDelete !== null && returned.byDelete < FREED_BARELY) {
    const insideNote = inside.byDelete !== null && inside.byDelete >= FREED_FULLY ? 'freed inside the system but ' : '';
    const toStorage = returned.byDelete < 0 ? `grew the disk by ${Math.round(-returned.byDelete * 100)} %` : `returned ${Math.round(returned.byDelete * 100)} % to storage`;
    parts.push(`deletes ${insideNote}${toStorage}`);
    if (returned.afterMaintenance !== null) parts.push(returned.afterMaintenance >= FREED_FULLY ? 'maintenance returns it' : `after maintenance ${Math.round(returned.afterMaintenance * 100)} % returned`);
  } else if (returned.byDelete !== null && returned.byDelete >= FREED_FULLY) {
    parts.push('deletes return the space physically');
  }
  return parts.join('; ');
}

/** The headline layer of a row: the primary layer its write records name. */
function headlineLayer(records: readonly StageRecord[]): ProbeLayer | null {
  return records.find((record) => (record.stage === 'bulk_insert' || record.stage === 'compaction') && record.primaryLayer)?.primaryLayer ?? null;
}

/** The layer gaps of the judged grade's at-rest record (compaction, else bulk_insert). */
function gapsAt(records: readonly StageRecord[], grade: string | undefined): string[] {
  const ofGrade = records.filter((record) => record.grade === grade && !record.error);
  const record = ofGrade.find((candidate) => candidate.stage === 'compaction' && candidate.edrFlag.status !== 'not-applicable') ?? ofGrade.find((candidate) => candidate.stage === 'bulk_insert');
  return record?.layerGaps ?? [];
}

/** The verdict, held to the physical layer: a logical probe alone never yields "dedup" (SPEC §6.2). */
export function physicalVerdict(text: string, layer: ProbeLayer | null): string {
  return layer === 'logical' ? `no physical answer: only the logical layer was measured (logical: ${text})` : text;
}

/** The answer cell: the verdict, what deleting did, and where layers differ. */
export function answerText(verdict: Pick<DedupVerdict, 'verdict' | 'reclaim' | 'layerGaps'>): string {
  return [verdict.verdict, verdict.reclaim, ...(verdict.layerGaps.length > 0 ? [`layers differ: ${verdict.layerGaps.join('; ')}`] : [])].filter(Boolean).join('; ');
}

/** One verdict per system/variant/mode/payload type, in the order the records came in. */
export function dedupVerdicts(records: readonly StageRecord[]): DedupVerdict[] {
  const rows = new Map<string, StageRecord[]>();
  for (const record of records) {
    const key = [systemLabel(record), variantWithDimensions(record), record.mode, record.payloadType].join('\u0000');
    const list = rows.get(key) ?? [];
    list.push(record);
    rows.set(key, list);
  }
  return [...rows.values()].map((list) => {
    const first = list[0] as StageRecord;
    const gradeNames = [...new Set(list.map((record) => record.grade))];
    const grades: GradeEdr[] = gradeNames
      .map((grade) => {
        const ofGrade = list.filter((record) => record.grade === grade);
        const ideal = meanOf(ofGrade.filter((record) => record.stage === 'bulk_insert' || record.stage === 'compaction').map((record) => record.idealEdr)) ?? 1;
        return { grade, ideal, ingest: edrAfter(ofGrade, 'bulk_insert'), atRest: edrAfter(ofGrade, 'compaction') ?? edrAfter(ofGrade, 'bulk_insert') };
      })
      .sort((a, b) => a.ideal - b.ideal);
    const base = grades.find((grade) => Math.abs(grade.ideal - 1) < 1e-9);
    const compression = base?.atRest ?? null;
    // The most duplicated grade that has a usable EDR (a failed or implausible one is skipped).
    const top = [...grades].reverse().find((grade) => grade.atRest !== null && grade.ideal >= MIN_JUDGEABLE_IDEAL) ?? grades.at(-1);
    const ingestShare = top ? dedupShare(top.ingest, base?.ingest ?? null, top.ideal) : null;
    const atRestShare = top ? dedupShare(top.atRest, compression, top.ideal) : null;
    const freed = freedShares(list);
    const freedInside = freedShares(list, layerSpace(['system']));
    const returned = freedShares(list, layerSpace(['storage', 'memory']));
    const layer = headlineLayer(list);
    return {
      system: systemLabel(first),
      engine: engineLabel(first.systemVersion),
      variant: variantWithDimensions(first),
      mode: first.mode,
      payloadType: first.payloadType,
      grades,
      compression,
      ingestShare,
      atRestShare,
      freedByDelete: freed.byDelete,
      freedAfterMaintenance: freed.afterMaintenance,
      freedInside,
      returned,
      layer,
      layerGaps: gapsAt(list, top?.grade),
      verdict: physicalVerdict(verdictText(ingestShare, atRestShare, compression), layer),
      reclaim: reclaimWording(freedInside, returned),
    };
  });
}

/** `1.02`, or `1.00→9.66` when compaction changed it. */
export function formatGradeEdr(grade: GradeEdr): string {
  if (grade.ingest === null && grade.atRest === null) return MISSING;
  const ingest = grade.ingest ?? grade.atRest;
  const atRest = grade.atRest ?? grade.ingest;
  const changed = ingest !== null && atRest !== null && ingest > 0 && Math.max(atRest / ingest, ingest / atRest) > COMPACTION_CHANGE;
  return changed ? `${(ingest as number).toFixed(2)}→${(atRest as number).toFixed(2)}` : (ingest as number).toFixed(2);
}

const percentOrMissing = (share: number | null): string => (share === null ? MISSING : `${Math.round(share * 100)} %`);

/** `100 % → 100 %`: by the deletes, then after maintenance. */
export function formatFreed(shares: FreedShares): string {
  if (shares.byDelete === null && shares.afterMaintenance === null) return MISSING;
  return `${percentOrMissing(shares.byDelete)} → ${percentOrMissing(shares.afterMaintenance)}`;
}

/** Headers and rows of the answer table (also rendered as HTML by html.ts), or null without records. */
export function verdictCells(records: readonly StageRecord[]): { headers: string[]; rows: string[][]; numeric: boolean[] } | null {
  const verdicts = dedupVerdicts(records.filter((record) => !record.error));
  if (verdicts.length === 0) return null;
  // Grades as columns, in order of their ideal EDR (U0, U50, U90 …).
  const gradeOrder = new Map<string, number>();
  for (const verdict of verdicts) for (const grade of verdict.grades) gradeOrder.set(grade.grade, Math.min(gradeOrder.get(grade.grade) ?? Infinity, grade.ideal));
  const gradeColumns = [...gradeOrder.entries()].sort((a, b) => a[1] - b[1]).map(([grade]) => grade);
  // The engine column appears when the records carry versions (results from before it do not).
  const withEngine = verdicts.some((verdict) => verdict.engine !== null);
  // The storage layer's column (SPEC §12) only when a storage_dedup stage ran.
  const storage = storageAnswerColumn(records);
  const headers = ['system', ...(withEngine ? ['engine'] : []), 'variant', 'mode', 'payload', 'layer', ...gradeColumns.map((grade) => `EDR ${grade}`), 'freed inside', 'returned', ...(storage ? ['storage layer'] : []), 'where dedup happens'];
  const rows = verdicts.map((verdict) => [
    verdict.system,
    ...(withEngine ? [verdict.engine ?? MISSING] : []),
    verdict.variant,
    verdict.mode,
    verdict.payloadType,
    verdict.layer ?? MISSING,
    ...gradeColumns.map((name) => {
      const grade = verdict.grades.find((candidate) => candidate.grade === name);
      return grade ? formatGradeEdr(grade) : MISSING;
    }),
    formatFreed(verdict.freedInside),
    formatFreed(verdict.returned),
    ...(storage ? [storage(verdict)] : []),
    answerText(verdict),
  ]);
  const numeric = headers.map((header) => header.startsWith('EDR ') || header === 'freed inside' || header === 'returned');
  return { headers, rows, numeric };
}

export const VERDICT_NOTE = [
  'EDR after bulk_insert (→ after compaction when compaction changed it by more than 5 %).',
  '"% of ideal" = ln(EDR / EDR at U0) / ln(ideal EDR) at the most duplicated grade: 0 % = every copy costs full space,',
  `100 % = only the unique bytes are stored; "dedup" from ${Math.round(FULL_DEDUP_SHARE * 100)} %, "partial" from ${Math.round(PARTIAL_DEDUP_SHARE * 100)} %.`,
  '"layer" = where the EDRs come from: the deepest layer measured (storage > memory > system > logical) unless probes.primary names a probe.',
  '"freed inside" (system layer: space the system can reuse) and "returned" (storage layer: space the disk got back) = share of the bytes',
  'the per-file inserts added that the deletes → the deletes plus maintenance gave back. "layers differ" = another layer\'s EDR is more than 10 % off.',
].join('\n');

/** The answer table for a terminal, or null when there are no records. */
export function renderVerdictText(records: readonly StageRecord[]): string | null {
  const cells = verdictCells(records);
  if (!cells) return null;
  return ['Where does deduplication happen?', ...alignedTable(cells.headers, cells.rows, cells.numeric), VERDICT_NOTE].join('\n') + '\n';
}

export function renderVerdictMarkdown(records: readonly StageRecord[]): string | null {
  const cells = verdictCells(records);
  if (!cells) return null;
  return `${markdownTable(cells.headers, cells.rows, cells.numeric)}\n\n${VERDICT_NOTE.replace(/\n/g, ' ')}`;
}
