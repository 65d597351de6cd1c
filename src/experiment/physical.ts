/**
 * The physical side of a stage record (SPEC §6.2, §6.4), kept out of `runCell`: which probe is the
 * headline, what the system layer freed and the storage layer got back, where layers disagree,
 * and the reclaim watch after delete, maintenance and compaction stages.
 */
import { bestProbe, choosePrimaryProbe, layerGaps, valuesByLayer, type PrimaryChoice } from '../measure/layers.js';
import { watchReclaim, type ReclaimWatch } from '../measure/reclaim.js';
import { readOnce, type Clock } from '../measure/settle.js';
import type { CellContext, Probe, StageName, SystemAdapter } from '../systems/types.js';
import type { ProbeResult, StageRecord } from './record.js';

/** Stages after which space may come back later than the stage ends (SPEC §6.4). */
export const RECLAIM_STAGES: readonly StageName[] = ['compaction', 'perfile_delete', 'maintenance', 'maintenance_full'];

/** Default `run.reclaimWindowS`: above ClickHouse's production old_parts_lifetime (480 s) plus its cleanup period. */
export const DEFAULT_RECLAIM_WINDOW_S = 600;

export { choosePrimaryProbe, type PrimaryChoice };

type PhysicalFields = Pick<StageRecord, 'primaryLayer' | 'layerGaps' | 'freedInside' | 'returned'>;

/** freedInside from the system layer, returned from the storage layer (memory for in-memory systems). */
export function physicalFields(results: readonly ProbeResult[], choice: PrimaryChoice, spaceStage: boolean): PhysicalFields {
  const layered = results.filter((probe): probe is ProbeResult & { layer: NonNullable<ProbeResult['layer']> } => probe.layer !== undefined);
  const system = bestProbe(layered, 'system');
  const storage = bestProbe(layered, 'storage') ?? bestProbe(layered, 'memory');
  return {
    primaryLayer: choice.layer,
    layerGaps: !spaceStage ? layerGaps(valuesByLayer(layered, (probe) => probe.edr), choice.layer) : [],
    ...(spaceStage ? { freedInside: system?.reclaimedBytes ?? null, returned: storage?.reclaimedBytes ?? null } : {}),
  };
}

export interface WatchContext {
  adapter: SystemAdapter;
  context: CellContext;
  probes: readonly Probe[];
  choice: PrimaryChoice;
  windowMs: number;
  clock: Clock;
  signal: AbortSignal;
}

/** The probe the watch samples: the primary when physical, else the best storage/memory probe. */
export function watchedProbe(probes: readonly Probe[], choice: PrimaryChoice): Probe | null {
  const primary = probes.find((probe) => probe.name === choice.name);
  if (primary && (primary.layer === 'storage' || primary.layer === 'memory') && primary.scope !== 'log') return primary;
  return bestProbe(probes, 'storage') ?? bestProbe(probes, 'memory');
}

/** Run the bounded watch right after the stage, before the settled "after" reads (so a plateau during a deferral is never final). */
export async function reclaimWatchAfter(stage: StageName, watch: WatchContext): Promise<Pick<StageRecord, 'timeToReclaimMs' | 'reclaimCurve' | 'reclaimNote'>> {
  const probe = watchedProbe(watch.probes, watch.choice);
  if (!probe) return { timeToReclaimMs: null, reclaimCurve: null, reclaimNote: 'no storage-layer probe to watch' };
  const deferrals = watch.adapter.deferrals ? await watch.adapter.deferrals(watch.context, stage) : [];
  const result: ReclaimWatch = await watchReclaim({ read: () => readOnce(probe), clock: watch.clock, windowMs: watch.windowMs, deferrals, minIntervalMs: probe.pollIntervalMs, settleTimeoutMs: probe.settleTimeoutMs, signal: watch.signal });
  const declared = deferrals.length > 0 ? `; deferrals: ${deferrals.map((deferral) => `${deferral.name} ${Math.round(deferral.durationMs / 1000)} s (${deferral.source})`).join(', ')}` : '';
  return { ...result, reclaimNote: `${result.reclaimNote ? `${result.reclaimNote}; ` : ''}watched ${probe.name}${declared}` };
}
