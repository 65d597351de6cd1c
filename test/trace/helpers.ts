/** Helpers for the trace tests: env of the real services, a real sqlite adapter, line readers. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TraceEvent } from '../../src/experiment/record.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { loadSystem } from '../../src/systems/registry.js';
import { makeCell } from '../systems/fixtures.js';

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/test.sh (or eval "$(bash scripts/services.sh env)")`);
  return value;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `dedup-lab-${prefix}-`));
}

export function readTrace(dir: string): TraceEvent[] {
  return readFileSync(join(dir, 'trace.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TraceEvent);
}

/** A connected sqlite adapter with an empty lab, in its own data dir. */
export async function sqliteAdapter(instance = 'sqlite'): Promise<SystemAdapter> {
  const definition = await loadSystem('sqlite');
  const adapter = definition.create(instance, definition.parseOptions({ dataDir: tempDir('trace-sqlite') }), 'dedup_lab_trace');
  await adapter.connect();
  await adapter.resetLab(makeCell({ variant: definition.variants[0]!, mode: 'blob' }));
  return adapter;
}

/** Poll `read` until `accept` holds or the deadline passes (no fixed sleeps). */
export async function pollUntil<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await read();
      if (accept(last)) return last;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value ${JSON.stringify(last)}${lastError ? `, last error ${String(lastError)}` : ''}`);
}
