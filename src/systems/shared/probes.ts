/** Probe construction shared by adapters: a failed or nonsensical read is missing, never a number. */
import type { Probe, ProbeReading } from '../types.js';
import { errorMessage } from '../../cli/errors.js';

/**
 * Settle poll interval of embedded engines' probes: their settle() checkpoints synchronously,
 * after which the numbers cannot move, so the runner's two equal reads come back-to-back.
 */
export const EMBEDDED_POLL_INTERVAL_MS = 10;

export interface ProbeTimings {
  settleTimeoutMs: number;
  pollIntervalMs: number;
  /** Copies the reading counts (1 for internal probes). */
  replicas?: number;
}

/** Turn a byte count (or a thrown error) into a reading; negative/NaN counts become missing. */
export async function readBytes(read: () => Promise<number> | number): Promise<ProbeReading> {
  try {
    const bytes = await read();
    if (!Number.isFinite(bytes) || bytes < 0) return { bytes: null, error: `probe returned an invalid size ${bytes}` };
    return { bytes };
  } catch (error) {
    return { bytes: null, error: errorMessage(error) };
  }
}

/** Only the timings of an adapter's options: a probe's replica count is never taken from elsewhere by accident. */
export function timingsOf(options: { settleTimeoutMs: number; pollIntervalMs: number }): ProbeTimings {
  return { settleTimeoutMs: options.settleTimeoutMs, pollIntervalMs: options.pollIntervalMs };
}

export function sizeProbe(name: string, read: () => Promise<number> | number, timings: ProbeTimings): Probe {
  return {
    name,
    replicas: timings.replicas ?? 1,
    read: () => readBytes(read),
    settleTimeoutMs: timings.settleTimeoutMs,
    pollIntervalMs: timings.pollIntervalMs,
  };
}
