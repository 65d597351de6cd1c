/**
 * Turn a stage's raw probe readings into the per-probe results of the record (SPEC §6.3, §6.4).
 * Pure: readings in, numbers and flags out.
 */
import type { ProbeResult } from '../experiment/record.js';
import type { ProbeLayer, ProbeScope } from '../systems/types.js';
import { computeEdr, computeSpace, probeDelta, type EdrFlag } from './edr.js';

/** What a stage is measured for: EDR (write stages), space given back (delete / maintenance), nothing. */
export type StageMeasure =
  | { kind: 'edr' }
  | { kind: 'space' }
  | { kind: 'not-applicable'; reason: string }
  | { kind: 'failed'; reason: string };

export interface ProbeReadings {
  name: string;
  layer: ProbeLayer;
  scope?: ProbeScope;
  replicas: number;
  baseline: number | null;
  before: number | null;
  after: number | null;
  settled: boolean;
  error?: string;
  /** Set once the probe was seen not to shrink after a reset: every later number is untrustworthy. */
  stuckReason?: string | null;
}

export interface DataFacts {
  storedLogicalBytes: number;
  idealEdr: number;
  compressibility: number | null;
}

export const SPACE_STAGE_REASON = 'delete and maintenance stages report reclaimed and residual bytes, not an EDR';

export function probeResult(readings: ProbeReadings, measure: StageMeasure, facts: DataFacts): ProbeResult {
  const base: ProbeResult = {
    name: readings.name,
    layer: readings.layer,
    ...(readings.scope ? { scope: readings.scope } : {}),
    replicas: readings.replicas,
    baseline: readings.baseline,
    before: readings.before,
    after: readings.after,
    delta: probeDelta(readings.before, readings.after),
    settled: readings.settled,
    edr: null,
    edrFlag: { status: 'not-applicable', reason: null },
    reclaimedBytes: null,
    residualBytes: null,
    ...(readings.error ? { error: readings.error } : {}),
  };
  if (measure.kind === 'not-applicable' || measure.kind === 'failed') {
    return { ...base, edrFlag: { status: measure.kind === 'failed' ? 'unmeasurable' : 'not-applicable', reason: measure.reason } };
  }
  if (measure.kind === 'space') {
    const space = computeSpace(readings.before, readings.after, readings.baseline, readings.replicas);
    if (readings.stuckReason) {
      return { ...base, reclaimedBytes: space.reclaimedBytes, edrFlag: { status: 'unmeasurable', reason: readings.stuckReason } };
    }
    return { ...base, ...space, edrFlag: withSettleNote({ status: 'not-applicable', reason: SPACE_STAGE_REASON }, readings) };
  }
  if (readings.stuckReason) return { ...base, edrFlag: { status: 'unmeasurable', reason: readings.stuckReason } };
  const { edr, flag } = computeEdr({
    storedLogicalBytes: facts.storedLogicalBytes,
    baseline: readings.baseline,
    after: readings.after,
    replicas: readings.replicas,
    idealEdr: facts.idealEdr,
    compressibility: facts.compressibility,
  });
  return { ...base, edr, edrFlag: withSettleNote(flag, readings) };
}

/** A reading that never settled is kept with its status, but the flag's reason says so (it may still have been moving). */
function withSettleNote(flag: EdrFlag, readings: ProbeReadings): EdrFlag {
  if (readings.settled) return flag;
  const note = `probe did not settle (two equal consecutive reads) before its timeout${readings.error ? `: ${readings.error}` : ''}`;
  return { status: flag.status, reason: flag.reason ? `${flag.reason}; ${note}` : note };
}
