/**
 * The results directory on disk (SPEC §4, §6.4): `results.jsonl` appended and fsynced per stage,
 * per-cell checkpoints written atomically, and the resume clean-up that keeps exactly one set of
 * lines per checkpointed cell.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { scrub } from '../config/secrets.js';
import type { StageRecord } from './record.js';

export const RESULTS_FILE = 'results.jsonl';
export const CHECKPOINT_DIR = 'checkpoints';

export interface Checkpoint {
  cellId: string;
  status: 'complete' | 'failed';
  /** The run and attempt whose result lines are the cell's final ones. */
  runId: string;
  attempt: number;
  finishedAt: string;
  error: { kind: string; message: string } | null;
  /**
   * What the cell measured (data-set parameters and stages). A resume skips a complete cell only
   * when this still matches, so changed --files/--seed/--stages never leave old numbers standing.
   */
  fingerprint?: string;
}

/** Append one line and fsync it before returning: a crash right after loses nothing recorded. */
export function appendLineDurably(file: string, line: string): void {
  const fd = openSync(file, 'a');
  const sizeBefore = fstatSync(fd).size;
  try {
    // writeSync may write only part when the disk fills; the next call then throws ENOSPC.
    const bytes = Buffer.from(line.endsWith('\n') ? line : `${line}\n`);
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
    fsyncSync(fd);
  } catch (error) {
    // A full disk may have taken part of the line: cut it off so every line stays whole.
    try {
      ftruncateSync(fd, sizeBefore);
    } catch {
      // the torn line is then dropped on the next read (parseRecordLines)
    }
    throw error;
  } finally {
    closeSync(fd);
  }
}

/** Secrets never reach results: adapter and probe error texts are scrubbed on the way out. */
export function appendRecord(resultsDir: string, record: StageRecord): void {
  appendLineDurably(join(resultsDir, RESULTS_FILE), scrub(JSON.stringify(record)));
}

/** Write through a temp file: write, fsync, rename over the target, fsync the directory. */
export function writeFileAtomic(path: string, content: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(temp, 'w');
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

export function checkpointPath(resultsDir: string, cellId: string): string {
  return join(resultsDir, CHECKPOINT_DIR, `${cellId}.json`);
}

export function writeCheckpoint(resultsDir: string, checkpoint: Checkpoint): void {
  writeFileAtomic(checkpointPath(resultsDir, checkpoint.cellId), `${JSON.stringify(checkpoint, null, 2)}\n`);
}

export function readCheckpoints(resultsDir: string): Map<string, Checkpoint> {
  const dir = join(resultsDir, CHECKPOINT_DIR);
  const checkpoints = new Map<string, Checkpoint>();
  if (!existsSync(dir)) return checkpoints;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue;
    try {
      const checkpoint = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Checkpoint;
      if (typeof checkpoint.cellId === 'string' && typeof checkpoint.runId === 'string') checkpoints.set(checkpoint.cellId, checkpoint);
    } catch {
      // Written atomically, so an unreadable file is not ours to trust: the cell simply runs again.
    }
  }
  return checkpoints;
}

/** Parse result lines, dropping a torn (partially written) line instead of failing on it. */
export function parseRecordLines(text: string): StageRecord[] {
  const records: StageRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as StageRecord);
    } catch {
      // torn line from a crash mid-append
    }
  }
  return records;
}

export function readRecords(resultsDir: string): StageRecord[] {
  const file = join(resultsDir, RESULTS_FILE);
  return existsSync(file) ? parseRecordLines(readFileSync(file, 'utf8')) : [];
}

/**
 * Keep only the lines of each checkpointed cell's final attempt (same run and attempt as its
 * checkpoint), dropping torn lines and lines of unfinished or superseded attempts.
 */
export function finalRecords(records: readonly StageRecord[], checkpoints: ReadonlyMap<string, Checkpoint>): StageRecord[] {
  return records.filter((record) => {
    const checkpoint = checkpoints.get(record.cellId);
    return checkpoint !== undefined && checkpoint.runId === record.runId && checkpoint.attempt === record.attempt;
  });
}

/** Rewrite results.jsonl atomically with only the final lines; returns how many lines were dropped. */
export function compactResults(resultsDir: string): number {
  const file = join(resultsDir, RESULTS_FILE);
  if (!existsSync(file)) return 0;
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').filter((line) => line.trim());
  const kept = finalRecords(parseRecordLines(text), readCheckpoints(resultsDir));
  if (kept.length === lines.length) return 0;
  writeFileAtomic(file, kept.map((record) => `${JSON.stringify(record)}\n`).join(''));
  return lines.length - kept.length;
}
