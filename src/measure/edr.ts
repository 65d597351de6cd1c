/**
 * EDR and space arithmetic of SPEC §6.3, as small pure functions so every formula has a unit test.
 *
 * All byte numbers are per probe. A missing read is `null` and is never used as a number (the
 * predecessor subtracted failed reads of -1 as if they were sizes).
 */
import type { EdrStatus } from '../experiment/record.js';

export interface EdrFlag {
  status: EdrStatus;
  reason: string | null;
}

export interface EdrInput {
  /** Acknowledged payload held in the lab after the stage (SPEC §6.1). */
  storedLogicalBytes: number;
  /** Empty-baseline reading of the cell (step 1 of §4). */
  baseline: number | null;
  /** Settled reading after the stage. */
  after: number | null;
  /** How many stored copies the probe counts. */
  replicas: number;
  /** total bytes / unique bytes of the data set. */
  idealEdr: number;
  /** Compression ratio a standard compressor reaches on the data (≥ 1), or null when unknown. */
  compressibility: number | null;
}

export interface EdrResult {
  edr: number | null;
  flag: EdrFlag;
}

/** How far above the ceiling idealEdr × compressibility an EDR may go before it is implausible. */
export const IMPLAUSIBLE_MARGIN = 1.25;

/** The highest EDR any system could honestly reach on this data (dedup × compression × margin). */
export function plausibleEdrCeiling(idealEdr: number, compressibility: number | null): number {
  return idealEdr * Math.max(1, compressibility ?? 1) * IMPLAUSIBLE_MARGIN;
}

/** `EDR = storedLogicalBytes / ((after − baseline) / replicas)`, or null with the reason it cannot be measured. */
export function computeEdr(input: EdrInput): EdrResult {
  const { storedLogicalBytes, baseline, after, replicas } = input;
  if (baseline === null) return unmeasurable('the empty-baseline read of this probe is missing');
  if (after === null) return unmeasurable('the read after the stage is missing');
  if (!(replicas >= 1)) return unmeasurable(`probe replicas must be ≥ 1 (got ${replicas})`);
  if (storedLogicalBytes <= 0) return unmeasurable('no acknowledged payload is stored');
  const physicalDelta = after - baseline;
  if (physicalDelta <= 0) {
    return unmeasurable(`physical size grew by ${physicalDelta} bytes over the empty baseline (≤ 0)`);
  }
  const edr = storedLogicalBytes / (physicalDelta / replicas);
  const ceiling = plausibleEdrCeiling(input.idealEdr, input.compressibility);
  if (edr > ceiling) {
    const compress = input.compressibility === null ? 'unknown (taken as 1)' : input.compressibility.toFixed(2);
    return {
      edr,
      flag: {
        status: 'implausible',
        reason: `EDR ${edr.toFixed(2)} exceeds ideal EDR ${input.idealEdr.toFixed(2)} × compressibility ${compress} × ${IMPLAUSIBLE_MARGIN} = ${ceiling.toFixed(2)}`,
      },
    };
  }
  return { edr, flag: { status: 'ok', reason: null } };
}

function unmeasurable(reason: string): EdrResult {
  return { edr: null, flag: { status: 'unmeasurable', reason } };
}

export interface SpaceResult {
  /** Bytes given back by the stage: (before − after) / replicas. Negative when the stage grew. */
  reclaimedBytes: number | null;
  /** Bytes still held above the empty baseline after the stage: (after − baseline) / replicas. */
  residualBytes: number | null;
}

/** Delete and maintenance stages report space given back and still held, per stored copy. */
export function computeSpace(before: number | null, after: number | null, baseline: number | null, replicas: number): SpaceResult {
  const perCopy = (bytes: number) => bytes / Math.max(1, replicas);
  return {
    reclaimedBytes: before === null || after === null ? null : perCopy(before - after),
    residualBytes: after === null || baseline === null ? null : perCopy(after - baseline),
  };
}

/** after − before, or null when either read is missing. */
export function probeDelta(before: number | null, after: number | null): number | null {
  return before === null || after === null ? null : after - before;
}

/**
 * A probe that does not shrink back to its empty baseline after a reset (block-storage metrics
 * that only ever grow) makes every later number wrong. Tolerance: max(1 MiB, 5 % of baseline).
 * Returns the reason when the probe is stuck, else null.
 */
export function stuckProbeReason(baseline: number | null, afterReset: number | null): string | null {
  if (baseline === null || afterReset === null) return null;
  const tolerance = Math.max(1024 * 1024, 0.05 * baseline);
  if (afterReset > baseline + tolerance) {
    return `probe did not shrink after reset: ${afterReset} bytes after the reset vs ${baseline} bytes empty baseline (tolerance ${Math.round(tolerance)})`;
  }
  return null;
}

/** Bytes (or files) per second over an operation's duration; null when nothing was timed. */
export function ratePerSecond(amount: number, durationMs: number): number | null {
  if (!(durationMs > 0)) return null;
  return amount / (durationMs / 1000);
}
