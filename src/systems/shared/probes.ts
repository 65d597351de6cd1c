/** Probe construction shared by adapters: a failed or nonsensical read is missing, never a number. */
import type { Probe, ProbeLayer, ProbeReading, ProbeScope } from '../types.js';
import { errorMessage } from '../../core/errors.js';

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

/** Which layer a probe reads (SPEC §6.2) and, for storage probes, what it covers. */
export interface ProbeKind {
  layer: ProbeLayer;
  scope?: ProbeScope;
}

/** The system's own accounting of the lab namespace (relation sizes, DATA_LENGTH, active parts …). */
export const SYSTEM_LAYER: ProbeKind = { layer: 'system' };
/** What the system lists as stored payload (an S3 listing, a stream's message bytes). */
export const LOGICAL_LAYER: ProbeKind = { layer: 'logical' };

export function sizeProbe(name: string, kind: ProbeKind, read: () => Promise<number> | number, timings: ProbeTimings): Probe {
  return {
    name,
    layer: kind.layer,
    ...(kind.scope ? { scope: kind.scope } : {}),
    replicas: timings.replicas ?? 1,
    read: () => readBytes(read),
    settleTimeoutMs: timings.settleTimeoutMs,
    pollIntervalMs: timings.pollIntervalMs,
  };
}
