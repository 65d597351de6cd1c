/**
 * Reading the stored results back: results.jsonl (one StageRecord per line) and trace.jsonl.
 * A crash can tear the last line of either file; such a line is skipped. Both files are read
 * as streams so a long trace never has to fit in memory as one string.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { StageRecord, TraceEvent } from '../experiment/record.js';
import { redact } from '../config/secrets.js';

export interface JsonLines<T> {
  items: T[];
  /** Lines that did not parse or lacked required fields, by 1-based line number. */
  skipped: { line: number; reason: string }[];
}

/**
 * Parse a JSON-lines file. `accept` checks the shape of each object (returns a reason to skip).
 * An unparsable final line is the torn write of a crash and is skipped like any bad line; the
 * caller is told about every skipped line so nothing disappears silently.
 */
export async function readJsonLines<T>(
  path: string,
  accept: (value: unknown) => string | null,
  onItem?: (item: T) => void,
): Promise<JsonLines<T>> {
  const items: T[] = [];
  const skipped: { line: number; reason: string }[] = [];
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber += 1;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      skipped.push({ line: lineNumber, reason: 'not valid JSON (torn write?)' });
      continue;
    }
    const problem = accept(value);
    if (problem) {
      skipped.push({ line: lineNumber, reason: problem });
      continue;
    }
    if (onItem) onItem(value as T);
    else items.push(value as T);
  }
  return { items, skipped };
}

const REQUIRED_RECORD_FIELDS: [keyof StageRecord, string][] = [
  ['runId', 'string'],
  ['cellId', 'string'],
  ['attempt', 'number'],
  ['system', 'string'],
  ['stage', 'string'],
];

function checkRecordShape(value: unknown): string | null {
  if (!value || typeof value !== 'object') return 'not an object';
  const record = value as Record<string, unknown>;
  for (const [field, type] of REQUIRED_RECORD_FIELDS) {
    if (typeof record[field] !== type) return `field ${field} missing or not a ${type}`;
  }
  if (!Array.isArray(record.probes)) return 'field probes missing or not an array';
  return null;
}

function checkTraceShape(value: unknown): string | null {
  if (!value || typeof value !== 'object') return 'not an object';
  const event = value as Record<string, unknown>;
  if (typeof event.t !== 'number') return 'field t missing or not a number';
  if (event.kind !== 'sample' && event.kind !== 'stage_start' && event.kind !== 'stage_end') return 'unknown kind';
  return null;
}

/** Every parsable record of results.jsonl, in file order, with secrets scrubbed. */
export async function readResultLines(path: string): Promise<JsonLines<StageRecord>> {
  const parsed = await readJsonLines<StageRecord>(path, checkRecordShape);
  return { items: parsed.items.map((record) => redact(record)), skipped: parsed.skipped };
}

/** trace.jsonl lines; with `onEvent` they are handed over one by one instead of collected. */
export async function readTraceLines(path: string, onEvent?: (event: TraceEvent) => void): Promise<JsonLines<TraceEvent>> {
  return readJsonLines<TraceEvent>(path, checkTraceShape, onEvent);
}

/**
 * The records a report shows. results.jsonl is append-only, so it can hold superseded lines:
 * retried attempts of a cell and cells redone by a later run (`--repeat`, `--fresh`). For each
 * cell we keep only the latest run that touched it (the runId of the cell's last line in file
 * order) and, within that run, only the highest attempt — every stage of that attempt, and no
 * stage of an earlier attempt, because a retry starts the cell again from an empty lab and an
 * earlier attempt's numbers describe a lab state that no longer exists.
 * Order: the file order of the kept lines (the matrix order of the run).
 */
export function keepFinalRecords(records: readonly StageRecord[]): StageRecord[] {
  const latestRun = new Map<string, string>();
  for (const record of records) latestRun.set(record.cellId, record.runId);
  const highestAttempt = new Map<string, number>();
  for (const record of records) {
    if (latestRun.get(record.cellId) !== record.runId) continue;
    const best = highestAttempt.get(record.cellId);
    if (best === undefined || record.attempt > best) highestAttempt.set(record.cellId, record.attempt);
  }
  // A stage line written twice by the same attempt (should not happen) keeps its last copy.
  const kept = new Map<string, StageRecord>();
  for (const record of records) {
    if (latestRun.get(record.cellId) !== record.runId) continue;
    if (highestAttempt.get(record.cellId) !== record.attempt) continue;
    const key = `${record.cellId}\u0000${record.stage}`;
    kept.delete(key);
    kept.set(key, record);
  }
  return [...kept.values()];
}
