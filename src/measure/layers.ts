/**
 * Which probe answers the research question (SPEC §6.2): the physical layer decides. Pure
 * selection and comparison over probe descriptions, so every rule has a unit test.
 *
 * Primary probe rule, unless the config names one:
 * 1. the deepest layer measured: storage, else memory (in-memory systems), else system, else logical;
 * 2. within the storage layer, the narrowest scope: the lab's own files (`lab`) before a whole
 *    volume (`volume`) before a whole data directory (`data-dir`); a `log`-scoped probe (WAL /
 *    redo log only) is never the headline;
 * 3. on a tie, a probe named `storage` (shared extents counted once, SPEC §12) before the others,
 *    then the order the probes were given in.
 */
import type { ProbeLayer, ProbeScope } from '../systems/types.js';

export interface LayeredProbe {
  name: string;
  layer: ProbeLayer;
  scope?: ProbeScope;
}

/** Deeper = larger: the order of SPEC §6.2 with memory standing in for storage of in-memory systems. */
const LAYER_DEPTH: Record<ProbeLayer, number> = { logical: 0, system: 1, memory: 2, storage: 3 };
/** Narrower = smaller. Absent scope: the lab namespace as the system reports it. */
const SCOPE_RANK: Record<ProbeScope | 'none', number> = { lab: 0, none: 1, volume: 2, 'data-dir': 3, log: 9 };

export function layerDepth(layer: ProbeLayer): number {
  return LAYER_DEPTH[layer];
}

/** Probes that may carry a headline number (a log-only probe never does). */
function candidates<P extends LayeredProbe>(probes: readonly P[]): P[] {
  return probes.filter((probe) => probe.scope !== 'log');
}

/** Comparison for "better headline probe first". */
function compareForHeadline(a: LayeredProbe, b: LayeredProbe): number {
  return (
    layerDepth(b.layer) - layerDepth(a.layer) ||
    SCOPE_RANK[a.scope ?? 'none'] - SCOPE_RANK[b.scope ?? 'none'] ||
    Number(b.name === 'storage') - Number(a.name === 'storage')
  );
}

/** The best probe of one layer, or of all layers when `layer` is omitted; null when none. */
export function bestProbe<P extends LayeredProbe>(probes: readonly P[], layer?: ProbeLayer): P | null {
  const pool = candidates(probes).filter((probe) => layer === undefined || probe.layer === layer);
  // Array.prototype.sort is stable: equal probes keep their given order.
  return [...pool].sort(compareForHeadline)[0] ?? null;
}

export interface PrimaryChoice {
  name: string;
  layer: ProbeLayer | null;
  /** Why this probe: "configured" or "deepest layer measured". */
  reason: 'configured' | 'deepest layer measured';
}

/** The configured primary probe if given (even when absent: the record then says so), else the rule above. */
export function choosePrimaryProbe(probes: readonly LayeredProbe[], configured: string | undefined): PrimaryChoice {
  if (configured !== undefined) {
    return { name: configured, layer: probes.find((probe) => probe.name === configured)?.layer ?? null, reason: 'configured' };
  }
  const best = bestProbe(probes);
  return best ? { name: best.name, layer: best.layer, reason: 'deepest layer measured' } : { name: 'internal', layer: null, reason: 'deepest layer measured' };
}

/** Two readings differ by more than this share of the larger one: the answer shows both. */
export const LAYER_GAP_SHARE = 0.1;

export function differsByMoreThanShare(a: number, b: number, share = LAYER_GAP_SHARE): boolean {
  const larger = Math.max(Math.abs(a), Math.abs(b));
  return larger > 0 && Math.abs(a - b) / larger > share;
}

export interface LayerValue {
  layer: ProbeLayer;
  probe: string;
  value: number;
}

/** The short reason shown when an upper layer says more dedup (a larger EDR) than a deeper one, or less. */
export function layerGapReason(upper: LayerValue, deeper: LayerValue): string {
  const pair = `${upper.layer} ${upper.value.toFixed(2)}× (${upper.probe}) vs ${deeper.layer} ${deeper.value.toFixed(2)}× (${deeper.probe})`;
  if (deeper.value < upper.value) {
    const why =
      upper.layer === 'logical'
        ? 'the system lists less than the disk keeps (overwritten or deleted data still stored until vacuum/compaction)'
        : deeper.layer === 'memory'
          ? 'resident memory holds more than the system accounts for (allocator and per-key overhead)'
          : 'the disk holds more than the system accounts for (old parts, free pages, log or metadata files)';
    return `${pair}: ${why}`;
  }
  return `${pair}: the layer below stores less than the system accounts for (compression, sparse or shared blocks)`;
}

/** One value per layer (the best probe of each), deepest first; probes with a null value are left out. */
export function valuesByLayer<P extends LayeredProbe>(probes: readonly P[], valueOf: (probe: P) => number | null): LayerValue[] {
  const out: LayerValue[] = [];
  for (const layer of (['storage', 'memory', 'system', 'logical'] as const)) {
    const measured = candidates(probes).filter((probe) => probe.layer === layer && valueOf(probe) !== null);
    const best = bestProbe(measured, layer);
    if (best) out.push({ layer, probe: best.name, value: valueOf(best) as number });
  }
  return out;
}

/** Where the headline layer and another measured layer disagree by more than 10 %: one reason each. */
export function layerGaps(values: readonly LayerValue[], headlineLayer: ProbeLayer | null): string[] {
  const headline = values.find((value) => value.layer === headlineLayer) ?? values[0];
  if (!headline) return [];
  return values
    .filter((other) => other !== headline && differsByMoreThanShare(other.value, headline.value))
    .map((other) => (layerDepth(other.layer) < layerDepth(headline.layer) ? layerGapReason(other, headline) : layerGapReason(headline, other)));
}
