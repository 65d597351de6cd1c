/**
 * The reclaim watch of SPEC §6.4: after a delete, maintenance or compaction stage, sample the
 * storage layer until every declared deferral is over (its duration passed, or — when the server
 * can tell — the server says nothing is pending) and two consecutive samples agree, or the window
 * is over. No fixed wait: without a declared deferral it ends as soon as two samples
 * agree; the only pause is the sample interval. Clock injectable (tests run instantly).
 */
import type { Deferral, ProbeReading } from '../systems/types.js';
import type { Clock } from './settle.js';

/** [ms since the stage ended, bytes] */
export type ReclaimSample = [number, number];

export interface ReclaimWatchInput {
  read(): Promise<ProbeReading>;
  clock: Clock;
  /** Upper bound of the watch (run.reclaimWindowS × 1000). */
  windowMs: number;
  deferrals: readonly Deferral[];
  /** Shortest pause between two samples (the probe's poll interval). */
  minIntervalMs: number;
  /** How long after the last deferral the probe may take to agree with itself (its settle timeout); default: the whole window. */
  settleTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface ReclaimWatch {
  reclaimCurve: ReclaimSample[];
  /** ms from the stage end until the storage layer reached its final value; null when it did not within the window. */
  timeToReclaimMs: number | null;
  /** Why timeToReclaimMs is null, else null. */
  reclaimNote: string | null;
}

/** Samples at most ~60 times over a long deferral, never faster than the probe allows nor slower than 5 s. */
export function sampleIntervalMs(pendingMs: number, minIntervalMs: number): number {
  return Math.max(minIntervalMs, Math.min(5_000, Math.round(pendingMs / 60)));
}

/** The latest a declared deferral gives the space back, ms after the stage end (0 without any). */
export function pendingUntilMs(deferrals: readonly Deferral[]): number {
  return deferrals.reduce((latest, deferral) => Math.max(latest, deferral.durationMs), 0);
}

/** Two readings count as the same final value within max(4 KiB, 1 % of the curve's total movement). */
export function settleTolerance(curve: readonly ReclaimSample[]): number {
  const values = curve.map(([, bytes]) => bytes);
  const span = values.length === 0 ? 0 : Math.max(...values) - Math.min(...values);
  return Math.max(4096, 0.01 * span);
}

/** The first time from which every sample stays at the final value (the last sample), or null on an empty curve. */
export function timeToFinal(curve: readonly ReclaimSample[]): number | null {
  const last = curve.at(-1);
  if (!last) return null;
  const tolerance = settleTolerance(curve);
  let since = last[0];
  for (let index = curve.length - 1; index >= 0; index--) {
    const sample = curve[index] as ReclaimSample;
    if (Math.abs(sample[1] - last[1]) > tolerance) break;
    since = sample[0];
  }
  return since;
}

/** Two consecutive samples this close count as agreeing (one file-system block of jitter). */
export const AGREE_BYTES = 4096;

/** The last two samples agree: the probe has reached a value (for now). */
function lastTwoAgree(curve: readonly ReclaimSample[]): boolean {
  if (curve.length < 2) return false;
  const [a, b] = curve.slice(-2) as [ReclaimSample, ReclaimSample];
  return Math.abs(a[1] - b[1]) <= AGREE_BYTES;
}

/** Why the watch ended without a final value; `holding` = deferrals whose server said the space was still pending at the last check. */
export function notReclaimedNote(windowMs: number, deferrals: readonly Deferral[], elapsedMs: number, holding: readonly Deferral[] = []): string {
  const pending = deferrals.filter((deferral) => deferral.durationMs > elapsedMs || holding.includes(deferral)).map((deferral) => `${deferral.name} ${Math.round(deferral.durationMs / 1000)} s`);
  return `not reclaimed within ${Math.round(windowMs / 1000)} s${pending.length > 0 ? ` (still pending: ${pending.join(', ')})` : ` (still changing after ${Math.round(elapsedMs / 1000)} s)`}`;
}

/** Deferrals that cannot free anything inside the window (a TTL longer than it): the watch does not wait for them. */
export function beyondWindow(deferrals: readonly Deferral[], windowMs: number): Deferral[] {
  return deferrals.filter((deferral) => deferral.notBefore === true && deferral.durationMs > windowMs);
}

export function beyondWindowNote(beyond: readonly Deferral[], windowMs: number): string {
  return `pending: ${beyond.map((deferral) => `${deferral.name} ${Math.round(deferral.durationMs / 1000)} s`).join(', ')} exceeds the ${Math.round(windowMs / 1000)} s window`;
}

/**
 * The deferrals still open: one that can tell (stillPending) is open exactly while the server says
 * so — past its duration too, and over before it once the server has freed the space (a failing
 * check counts as over); one that cannot is open until its duration has passed.
 */
async function openDeferrals(deferrals: readonly Deferral[], elapsedMs: number): Promise<{ open: Deferral[]; holding: Deferral[] }> {
  const open: Deferral[] = [];
  const holding: Deferral[] = [];
  for (const deferral of deferrals) {
    if (deferral.stillPending) {
      if (await deferral.stillPending().catch(() => false)) holding.push(deferral);
    } else if (deferral.durationMs > elapsedMs) open.push(deferral);
  }
  return { open: [...open, ...holding], holding };
}

export async function watchReclaim(input: ReclaimWatchInput): Promise<ReclaimWatch> {
  const start = input.clock.now();
  const beyond = beyondWindow(input.deferrals, input.windowMs);
  const awaited = input.deferrals.filter((deferral) => !beyond.includes(deferral));
  const pendingMs = pendingUntilMs(awaited);
  const intervalMs = sampleIntervalMs(pendingMs, input.minIntervalMs);
  // Past the last deferral the probe only needs to settle: never more than its own settle timeout.
  const deadlineMs = Math.min(input.windowMs, pendingMs + (input.settleTimeoutMs ?? input.windowMs));
  const curve: ReclaimSample[] = [];
  let errors = 0;
  let holding: Deferral[] = [];
  for (;;) {
    const reading = await input.read().catch((error: unknown) => ({ bytes: null, error: String(error) }));
    const elapsed = input.clock.now() - start;
    if (reading.bytes === null) errors += 1;
    else curve.push([Math.round(elapsed), reading.bytes]);
    // The server is asked only once the probe agrees with itself (one query per sample at most).
    if (lastTwoAgree(curve)) {
      const state = await openDeferrals(awaited, elapsed);
      holding = state.holding;
      // A TTL beyond the window: the probe has settled, but the space is not back yet.
      if (state.open.length === 0 && beyond.length > 0) return { reclaimCurve: curve, timeToReclaimMs: null, reclaimNote: beyondWindowNote(beyond, input.windowMs) };
      if (state.open.length === 0) return { reclaimCurve: curve, timeToReclaimMs: timeToFinal(curve), reclaimNote: null };
    }
    if (elapsed + intervalMs > deadlineMs || input.signal?.aborted) {
      const note = curve.length === 0 ? `the storage probe could not be read (${errors} failed reads)` : notReclaimedNote(input.windowMs, awaited, elapsed, holding);
      return { reclaimCurve: curve, timeToReclaimMs: null, reclaimNote: note };
    }
    await input.clock.sleep(intervalMs, input.signal);
  }
}
