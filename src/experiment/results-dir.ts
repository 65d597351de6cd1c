/**
 * Guards of the results directory (SPEC §13): its kind and writability checked before anything is
 * written, one run per directory (a pid lock file), a full disk ending the run with one line, and
 * the torn last line a crash can leave in results.jsonl.
 */
import { accessSync, constants, existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../core/errors.js';

export const LOCK_FILE = 'run.lock';

/** Nearest existing folder at or above `path`. */
function nearestExisting(path: string): string {
  let current = path;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

/** The results dir must be a folder we can write (or creatable under one): checked before any write. */
export function checkResultsDir(resultsDir: string): void {
  if (existsSync(resultsDir) && !statSync(resultsDir).isDirectory()) {
    throw new UsageError(`invalid --results-dir ${JSON.stringify(resultsDir)}: it exists and is not a folder; valid: a folder path (existing folders resume)`);
  }
  const base = nearestExisting(resultsDir);
  if (!statSync(base).isDirectory()) throw new UsageError(`invalid --results-dir ${JSON.stringify(resultsDir)}: ${JSON.stringify(base)} is not a folder; valid: a folder path`);
  try {
    accessSync(base, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`invalid --results-dir ${JSON.stringify(resultsDir)}: ${JSON.stringify(base)} is not writable; valid: a writable folder path`);
  }
}

/** Is a process with this pid alive (EPERM: alive, someone else's)? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockHolder(lockPath: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export interface RunLock {
  release(): void;
}

/**
 * Take `<resultsDir>/run.lock` (our pid, created exclusively). A lock of a live process refuses the
 * run (exit 2, naming the pid); a lock of a dead process (killed run) is taken over.
 */
export function acquireRunLock(resultsDir: string): RunLock {
  const lockPath = join(resultsDir, LOCK_FILE);
  for (let tries = 0; tries < 3; tries++) {
    try {
      writeFileSync(lockPath, `${process.pid}\n`, { flag: 'wx' });
      return {
        release: () => {
          if (lockHolder(lockPath) === process.pid) unlinkSync(lockPath);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = lockHolder(lockPath);
    if (holder !== null && holder !== process.pid && pidAlive(holder)) {
      throw new UsageError(`results dir ${JSON.stringify(resultsDir)} is in use by another run (pid ${holder}, lock ${lockPath}); wait for it or use another --results-dir`);
    }
    // Stale (dead holder or unreadable): remove and try again; a racing taker makes `wx` fail once more.
    try {
      unlinkSync(lockPath);
    } catch {
      // someone else removed it first
    }
  }
  throw new UsageError(`results dir ${JSON.stringify(resultsDir)}: could not take ${lockPath} (another run keeps taking it)`);
}

const DISK_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EFBIG']);

/** Our own write into the results dir failed for lack of space (or a dead disk): the run cannot go on. */
export class ResultsWriteError extends Error {
  constructor(resultsDir: string, cause: NodeJS.ErrnoException) {
    super(`cannot write to the results dir ${resultsDir}: ${cause.code} (${cause.message}); every result line written before is kept — free space and run again with --results-dir ${resultsDir} to resume`);
  }
}

export function isDiskError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && DISK_ERRORS.has(String((error as NodeJS.ErrnoException).code));
}

/** Run a write into the results dir; a full or broken disk becomes one ResultsWriteError. */
export function resultsWrite<T>(resultsDir: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    if (isDiskError(error)) throw new ResultsWriteError(resultsDir, error);
    throw error;
  }
}

/** Lines of a results.jsonl text that are not whole JSON records (a crash cut them). */
export function tornLines(text: string): number {
  let torn = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      JSON.parse(line);
    } catch {
      torn += 1;
    }
  }
  return torn;
}
