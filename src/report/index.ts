/**
 * Report outputs (SPEC §6.4, §7) rebuilt from results.jsonl: results.json, results.csv,
 * summary.md, report.html, and the summary table printed on stdout.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StageRecord, TraceEvent } from '../experiment/record.js';
import { log } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import { redact } from '../config/secrets.js';
import { keepFinalRecords, readResultLines, readTraceLines } from './load.js';
import { toCsv } from './csv.js';
import { renderSummaryMarkdown } from './markdown.js';
import { renderTextTable } from './summary.js';
import { renderVerdictText } from './verdict.js';
import { renderHtmlReport } from './html.js';

export interface ReportPaths {
  resultsJson: string;
  resultsCsv: string;
  summaryMd: string;
  reportHtml: string;
}

export class NoResultsError extends Error {}

/** Write via a temporary file and rename, so a crash never leaves a half-written report. */
async function writeAtomically(path: string, content: string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, content);
  await rename(temporary, path);
}

/** The kept records of a results dir (see keepFinalRecords), warning about skipped lines. */
export async function loadResults(resultsDir: string): Promise<StageRecord[]> {
  const path = join(resultsDir, 'results.jsonl');
  if (!existsSync(path)) throw new NoResultsError(`no results.jsonl in ${resultsDir}`);
  const { items, skipped } = await readResultLines(path);
  for (const { line, reason } of skipped) log.warn(`${path}:${line} skipped: ${reason}`);
  return keepFinalRecords(items);
}

/** Most samples per system instance a report keeps (the charts cannot show more anyway). */
export const MAX_TRACE_SAMPLES_PER_INSTANCE = 1500;

/**
 * trace.jsonl for the report, in two streaming passes so a long trace at 100 ms never has to fit
 * in memory: the first counts samples per instance, the second keeps every k-th one (and the
 * last) so at most MAX_TRACE_SAMPLES_PER_INSTANCE remain per instance. Stage events are all kept.
 */
export async function loadTrace(resultsDir: string, maxSamples = MAX_TRACE_SAMPLES_PER_INSTANCE): Promise<TraceEvent[]> {
  const path = join(resultsDir, 'trace.jsonl');
  if (!existsSync(path)) return [];
  const keyOf = (event: TraceEvent) => `${event.system}\u0000${event.instance}`;
  const counts = new Map<string, number>();
  const first = await readTraceLines(path, (event) => {
    if (event.kind === 'sample') counts.set(keyOf(event), (counts.get(keyOf(event)) ?? 0) + 1);
  });
  const seen = new Map<string, number>();
  const kept: TraceEvent[] = [];
  await readTraceLines(path, (event) => {
    if (event.kind !== 'sample') return void kept.push(event);
    const key = keyOf(event);
    const total = counts.get(key) ?? 0;
    const index = seen.get(key) ?? 0;
    seen.set(key, index + 1);
    const stride = Math.ceil(total / maxSamples);
    if (index % stride === 0 || index === total - 1) kept.push(event);
  });
  const skipped = first.skipped;
  if (skipped.length > 0) log.warn(`${path}: ${skipped.length} unreadable line(s) skipped (first at line ${skipped[0]!.line}: ${skipped[0]!.reason})`);
  return kept;
}

/** environment.json, secrets redacted again (it is shown in the report), or undefined when absent. */
export async function loadEnvironment(resultsDir: string): Promise<unknown> {
  const path = join(resultsDir, 'environment.json');
  if (!existsSync(path)) return undefined;
  try {
    return redact(JSON.parse(await readFile(path, 'utf8')) as unknown);
  } catch (error) {
    log.warn(`${path} unreadable, left out of the report: ${errorMessage(error)}`);
    return undefined;
  }
}

/** Read results.jsonl (skipping a torn last line) and write every derived file. */
export async function writeReports(resultsDir: string): Promise<ReportPaths> {
  return (await buildReports(resultsDir)).paths;
}

/** writeReports, also returning the kept records (for a caller that prints the table). */
export async function buildReports(resultsDir: string): Promise<{ paths: ReportPaths; records: StageRecord[] }> {
  const records = await loadResults(resultsDir);
  const trace = await loadTrace(resultsDir);
  const paths: ReportPaths = {
    resultsJson: join(resultsDir, 'results.json'),
    resultsCsv: join(resultsDir, 'results.csv'),
    summaryMd: join(resultsDir, 'summary.md'),
    reportHtml: join(resultsDir, 'report.html'),
  };
  await writeAtomically(paths.resultsJson, `${JSON.stringify(records, null, 2)}\n`);
  await writeAtomically(paths.resultsCsv, toCsv(records));
  await writeAtomically(paths.summaryMd, renderSummaryMarkdown(records));
  const environment = await loadEnvironment(resultsDir);
  await writeAtomically(paths.reportHtml, renderHtmlReport({ records, trace, environment }));
  return { paths, records };
}

/**
 * What stdout shows after `run`, `demo` and `report`: the detailed table (one row per
 * system/variant/mode/payload/grade/stage), then the answer table (one row per
 * system/variant/mode/payload: where deduplication happens).
 */
export function renderSummaryTable(records: StageRecord[]): string {
  const kept = keepFinalRecords(records);
  const verdicts = renderVerdictText(kept);
  return verdicts ? `${renderTextTable(kept)}\n${verdicts}` : renderTextTable(kept);
}
