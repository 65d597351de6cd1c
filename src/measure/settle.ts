/**
 * Settle-by-polling (SPEC §4): a probe's "after" value is read until two consecutive reads agree
 * or the probe's timeout passes. There is no fixed sleep anywhere: the only pause is the probe's
 * own poll interval between two reads — or, when one read takes longer than that interval, as long
 * as the read took, so a slow probe (a walk over thousands of part files) reads at most half the time
 * instead of back to back (that walk's garbage once raised the tool's RSS by 60–90 MiB at 1 GiB).
 * Clock and sleep are injectable so tests run instantly.
 */
import type { Probe, ProbeReading } from '../systems/types.js';

export interface Clock {
  now(): number; // milliseconds, monotonic
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export interface SettledReading {
  bytes: number | null;
  /** Two consecutive reads agreed before the timeout. */
  settled: boolean;
  /** How many reads it took. */
  reads: number;
  error?: string;
}

export type ProbeTiming = Pick<Probe, 'read' | 'settleTimeoutMs' | 'pollIntervalMs'>;

/** A single read that never throws: a failing probe is a missing value with its error. */
export async function readOnce(probe: Pick<Probe, 'read'>): Promise<ProbeReading> {
  try {
    const reading = await probe.read();
    if (reading.bytes !== null && !Number.isFinite(reading.bytes)) {
      return { bytes: null, error: `probe returned a non-number: ${String(reading.bytes)}` };
    }
    if (reading.bytes !== null && reading.bytes < 0) {
      // A negative size is an error code, not a size (the predecessor's -1).
      return { bytes: null, error: `probe returned a negative size: ${reading.bytes}` };
    }
    return reading;
  } catch (error) {
    return { bytes: null, error: error instanceof Error ? error.message : String(error) };
  }
}

/** The pause before the next read: the poll interval, or the last read's duration if that was longer. */
export function pauseAfterRead(pollIntervalMs: number, lastReadMs: number): number {
  return Math.max(pollIntervalMs, Math.ceil(lastReadMs));
}

/** Poll until two consecutive non-missing reads are equal, or the probe's timeout passes. */
export async function readSettled(probe: ProbeTiming, clock: Clock = realClock, signal?: AbortSignal): Promise<SettledReading> {
  const deadline = clock.now() + probe.settleTimeoutMs;
  let readStarted = clock.now();
  let previous = await readOnce(probe);
  let reads = 1;
  for (;;) {
    if (clock.now() >= deadline || signal?.aborted) {
      return { bytes: previous.bytes, settled: false, reads, ...(previous.error ? { error: previous.error } : {}) };
    }
    await clock.sleep(pauseAfterRead(probe.pollIntervalMs, clock.now() - readStarted), signal);
    readStarted = clock.now();
    const current = await readOnce(probe);
    reads += 1;
    if (current.bytes !== null && current.bytes === previous.bytes) return { bytes: current.bytes, settled: true, reads };
    previous = current;
  }
}
