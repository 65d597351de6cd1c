/**
 * Progress of a run (SPEC §2): on a TTY a cli-progress bar with cells done of total, the current
 * stage, elapsed and remaining time; piped, one plain line per finished stage on stderr.
 */
import cliProgress from 'cli-progress';
import type { StageRecord } from '../experiment/record.js';
import type { StageName } from '../systems/types.js';
import { scrub } from '../config/secrets.js';
import { getVerbosity, log } from '../core/log.js';

export interface RunProgress {
  start(totalCells: number, alreadyDone: number): void;
  stageStart(cellId: string, stage: StageName): void;
  stageEnd(record: StageRecord): void;
  cellEnd(cellId: string, status: 'complete' | 'failed'): void;
  /** A log line that does not tear the bar. */
  note(message: string): void;
  stop(): void;
}

/** One plain line for a finished stage: what ran, how long, the headline number and its flag. */
export function stageLine(record: StageRecord): string {
  const parts = [`${record.cellId} ${record.stage}`, `${Math.round(record.durationMs)} ms`, `${record.files} files`];
  if (record.edr !== null) parts.push(`EDR ${record.edr.toFixed(2)} (ideal ${record.idealEdr.toFixed(2)})`);
  if (record.reclaimedBytes !== null) parts.push(`reclaimed ${record.reclaimedBytes} B`);
  if (record.edrFlag.status !== 'ok' && record.edrFlag.status !== 'not-applicable') parts.push(`${record.edrFlag.status}: ${record.edrFlag.reason}`);
  if (record.edrFlag.status === 'not-applicable' && record.stage !== 'perfile_delete' && record.stage !== 'maintenance') {
    parts.push(`not applicable: ${record.edrFlag.reason}`);
  }
  if (record.error) parts.push(`ERROR ${record.error.kind}: ${record.error.message}`);
  return parts.join(' | ');
}

/** Remaining time from this run's own pace (cells resumed from checkpoints took no time here). */
export function remainingText(elapsedMs: number, doneThisRun: number, left: number): string {
  if (left <= 0) return '0s';
  if (doneThisRun <= 0) return '?';
  return formatDuration((elapsedMs / doneThisRun) * left);
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export function createProgress(isTty: boolean = process.stderr.isTTY === true): RunProgress {
  if (!isTty || getVerbosity() === 'quiet') return plainProgress();
  const bar = new cliProgress.SingleBar(
    {
      format: 'cells {bar} {value}/{total} | {stage} | elapsed {duration_formatted} | remaining {remaining}',
      hideCursor: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let startedAt = 0;
  let done = 0;
  let doneAtStart = 0;
  let total = 0;
  const payload = (stage?: string) => ({
    remaining: remainingText(performance.now() - startedAt, done - doneAtStart, total - done),
    ...(stage === undefined ? {} : { stage }),
  });
  // Print a line above the bar: clear the bar's line, write, and let the bar redraw below it.
  const above = (message: string) => {
    if (!started) return log.info(message);
    process.stderr.write(`\r\x1b[K${scrub(message)}\n`);
    bar.render();
  };
  return {
    start(totalCells, alreadyDone) {
      started = true;
      startedAt = performance.now();
      total = totalCells;
      done = doneAtStart = alreadyDone;
      bar.start(totalCells, alreadyDone, { stage: 'starting', remaining: '?' });
    },
    stageStart(cellId, stage) {
      bar.update(done, payload(`${cellId} ${stage}`));
    },
    stageEnd(record) {
      if (record.error) above(stageLine(record));
    },
    cellEnd() {
      done += 1;
      bar.update(done, payload());
    },
    note(message) {
      above(message);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

function plainProgress(): RunProgress {
  let total = 0;
  let done = 0;
  return {
    start(totalCells, alreadyDone) {
      total = totalCells;
      done = alreadyDone;
      if (alreadyDone > 0) log.info(`${alreadyDone} of ${totalCells} cells already complete (checkpoints); resuming`);
    },
    stageStart() {},
    stageEnd(record) {
      log.info(stageLine(record));
    },
    cellEnd(cellId, status) {
      done += 1;
      log.info(`cell ${done}/${total} ${status}: ${cellId}`);
    },
    note(message) {
      log.info(message);
    },
    stop() {},
  };
}
