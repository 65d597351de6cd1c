/**
 * Progress of a run (SPEC §2): on a TTY a cli-progress bar with cells done of total, the current
 * stage, elapsed and remaining time; piped, one plain line per finished stage on stderr.
 */
import cliProgress from 'cli-progress';
import type { StageRecord } from '../experiment/record.js';
import type { StageName } from '../systems/types.js';
import { scrub } from '../config/secrets.js';
import { getVerbosity, log } from './log.js';

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

export function createProgress(isTty: boolean = process.stderr.isTTY === true): RunProgress {
  if (!isTty || getVerbosity() === 'quiet') return plainProgress();
  const bar = new cliProgress.SingleBar(
    {
      format: 'cells {bar} {value}/{total} | {stage} | elapsed {duration_formatted} | remaining {eta_formatted}',
      hideCursor: true,
      etaBuffer: 20,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  // Print a line above the bar: clear the bar's line, write, and let the next update redraw it.
  const above = (message: string) => {
    process.stderr.write(`\r\x1b[K${scrub(message)}\n`);
    bar.render();
  };
  return {
    start(total, alreadyDone) {
      done = alreadyDone;
      bar.start(total, alreadyDone, { stage: 'starting' });
    },
    stageStart(cellId, stage) {
      bar.update(done, { stage: `${cellId} ${stage}` });
    },
    stageEnd(record) {
      if (record.error) above(stageLine(record));
    },
    cellEnd() {
      done += 1;
      bar.update(done);
    },
    note(message) {
      above(message);
    },
    stop() {
      bar.stop();
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
