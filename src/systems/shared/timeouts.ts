/**
 * Operation timeouts for every adapter (SPEC §13): a server that stops answering (SIGSTOP, a
 * hung disk, a dead network) fails the attempt with an error naming the system and the operation
 * instead of hanging the run. One wrapper around the adapter, applied where the runner creates it
 * (src/experiment/setup.ts), so no adapter needs its own timer code.
 *
 * Two limits per system, both configurable in the system's `options`:
 * - `operationTimeoutSeconds`: connect, close, version, reset, drop, one insert/delete, count, one
 *   probe read, one metrics sample; for `bulkInsert` it is the longest pause between two files the
 *   adapter pulls (a bulk load of any size never times out while it makes progress).
 * - `maintenanceTimeoutSeconds`: `compact`, `maintenance` and `settle`, which legitimately run
 *   long on big data (VACUUM FULL, OPTIMIZE FINAL, waiting for the Kafka log cleaner).
 */
import { z } from 'zod';
import type { CellContext, LabFile, Probe, SystemAdapter } from '../types.js';

export interface OperationTimeouts {
  operationSeconds: number;
  maintenanceSeconds: number;
}

const DEFAULT_TIMEOUTS: OperationTimeouts = { operationSeconds: 60, maintenanceSeconds: 1800 };

/** Per-system defaults (seconds); systems not listed use DEFAULT_TIMEOUTS. */
export const SYSTEM_TIMEOUTS: Readonly<Record<string, OperationTimeouts>> = {
  postgresql: DEFAULT_TIMEOUTS,
  cockroachdb: DEFAULT_TIMEOUTS,
  mariadb: DEFAULT_TIMEOUTS,
  clickhouse: DEFAULT_TIMEOUTS,
  redis: { operationSeconds: 30, maintenanceSeconds: 600 },
  // Topic creation and the JVM's first requests are slower; the log cleaner is waited for in compact.
  kafka: { operationSeconds: 90, maintenanceSeconds: 1800 },
  minio: DEFAULT_TIMEOUTS,
  nats: { operationSeconds: 30, maintenanceSeconds: 600 },
  // Embedded systems run in this process (or a child): a hang there is a bug, still bounded.
  pglite: { operationSeconds: 600, maintenanceSeconds: 3600 },
  sqlite: { operationSeconds: 600, maintenanceSeconds: 3600 },
  duckdb: { operationSeconds: 600, maintenanceSeconds: 3600 },
};

/** The option keys every system accepts on top of its own (stripped before its schema runs). */
export const timeoutOptionsSchema = z
  .object({
    operationTimeoutSeconds: z.coerce.number().positive().max(86_400).optional(),
    maintenanceTimeoutSeconds: z.coerce.number().positive().max(86_400).optional(),
  })
  .strict();

const TIMEOUT_KEYS = Object.keys(timeoutOptionsSchema.shape);

/** Split raw options into the timeout keys and the system's own keys. */
export function splitTimeoutOptions(raw: unknown): { timeouts: Record<string, unknown>; rest: unknown } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { timeouts: {}, rest: raw };
  const timeouts: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) (TIMEOUT_KEYS.includes(key) ? timeouts : rest)[key] = value;
  return { timeouts, rest };
}

/** The limits for one system: its defaults overridden by its (already validated) options. */
export function timeoutsFor(systemId: string, raw: unknown): OperationTimeouts {
  const defaults = SYSTEM_TIMEOUTS[systemId] ?? DEFAULT_TIMEOUTS;
  const parsed = timeoutOptionsSchema.safeParse(splitTimeoutOptions(raw).timeouts);
  const options = parsed.success ? parsed.data : {};
  return {
    operationSeconds: options.operationTimeoutSeconds ?? defaults.operationSeconds,
    maintenanceSeconds: options.maintenanceTimeoutSeconds ?? defaults.maintenanceSeconds,
  };
}

export class OperationTimeoutError extends Error {
  constructor(
    readonly instance: string,
    readonly operation: string,
    readonly seconds: number,
    option: string,
  ) {
    super(`${instance}: ${operation} got no answer within ${seconds} s (the server may be hung; option ${option})`);
  }
}

interface Watchdog {
  /** Restart the countdown (progress was made). */
  touch(): void;
  signal: AbortSignal;
}

/**
 * Race `run` against a countdown that `touch` restarts. On expiry the signal handed to `run` is
 * aborted (so cooperative adapters stop pulling files) and the call rejects with `onExpiry()`.
 */
export async function withWatchdog<T>(ms: number, onExpiry: () => Error, run: (watchdog: Watchdog) => Promise<T>, parent?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const signal = parent ? AbortSignal.any([parent, controller.signal]) : controller.signal;
  let timer: NodeJS.Timeout | undefined;
  let expire: (error: Error) => void = () => undefined;
  const expired = new Promise<never>((_, reject) => {
    expire = reject;
  });
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      controller.abort();
      expire(onExpiry());
    }, ms);
  };
  arm();
  const work = run({ touch: arm, signal });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    // The abandoned operation may still settle later; its outcome is not ours any more.
    work.catch(() => undefined);
  }
}

async function* touching(files: AsyncIterable<LabFile>, touch: () => void): AsyncIterable<LabFile> {
  for await (const file of files) {
    touch();
    yield file;
  }
}

type Limit = 'operation' | 'maintenance';

/** The adapter with every operation bounded by the system's timeouts. */
export function withOperationTimeouts(adapter: SystemAdapter, timeouts: OperationTimeouts): SystemAdapter {
  const seconds = (limit: Limit) => (limit === 'operation' ? timeouts.operationSeconds : timeouts.maintenanceSeconds);
  const bounded = <T>(operation: string, limit: Limit, run: (watchdog: Watchdog) => Promise<T>, cell?: CellContext): Promise<T> =>
    withWatchdog(seconds(limit) * 1000, () => new OperationTimeoutError(adapter.instance, operation, seconds(limit), `${limit}TimeoutSeconds`), run, cell?.signal);
  const inCell = <T>(operation: string, limit: Limit, call: (cell: CellContext) => Promise<T>) => (cell: CellContext) =>
    bounded(operation, limit, ({ signal }) => call({ ...cell, signal }), cell);
  const boundedProbe = (probe: Probe): Probe => {
    // A prototype link instead of a spread keeps class-based probes' other members working.
    const wrapped = Object.create(probe) as Probe;
    wrapped.read = () => bounded(`probe ${probe.name} read`, 'operation', () => probe.read());
    return wrapped;
  };
  const wrapped: Partial<SystemAdapter> = {
    connect: () => bounded('connect', 'operation', () => adapter.connect()),
    // A hung close is abandoned, never waited for: the retry opens a new connection anyway.
    close: () => bounded('close', 'operation', () => adapter.close()).catch(() => undefined),
    version: () => bounded('version', 'operation', () => adapter.version()),
    resetLab: inCell('resetLab', 'operation', (cell) => adapter.resetLab(cell)),
    dropLab: () => bounded('dropLab', 'operation', () => adapter.dropLab()),
    bulkInsert: (files, cell) => bounded('bulkInsert', 'operation', ({ touch, signal }) => adapter.bulkInsert(touching(files, touch), { ...cell, signal }), cell),
    compact: inCell('compact', 'maintenance', (cell) => adapter.compact(cell)),
    insertOne: (file, cell) => bounded(`insertOne (file ${file.id})`, 'operation', ({ signal }) => adapter.insertOne(file, { ...cell, signal }), cell),
    deleteOne: (file, cell) => bounded(`deleteOne (file ${file.id})`, 'operation', ({ signal }) => adapter.deleteOne(file, { ...cell, signal }), cell),
    maintenance: inCell('maintenance', 'maintenance', (cell) => adapter.maintenance(cell)),
    countStored: inCell('countStored', 'operation', (cell) => adapter.countStored(cell)),
    settle: inCell('settle', 'maintenance', (cell) => adapter.settle(cell)),
    probes: (cell) => adapter.probes(cell).map(boundedProbe),
    sampleMetrics: () => bounded('sampleMetrics', 'operation', () => adapter.sampleMetrics()),
  };
  // A Proxy, so members other issues add to SystemAdapter still reach the adapter (unbounded until listed here).
  return new Proxy(adapter, {
    get(target, property, receiver) {
      if (Object.hasOwn(wrapped, property)) return wrapped[property as keyof SystemAdapter];
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
