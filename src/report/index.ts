/**
 * Report outputs (SPEC §6.4, §7) rebuilt from results.jsonl: results.json, results.csv,
 * summary.md, report.html, and the summary table printed on stdout.
 * Placeholder signatures: implemented by the reports issue.
 */
import type { StageRecord } from '../experiment/record.js';

export interface ReportPaths {
  resultsJson: string;
  resultsCsv: string;
  summaryMd: string;
  reportHtml: string;
}

/** Read results.jsonl (skipping a torn last line) and write every derived file. */
export async function writeReports(_resultsDir: string): Promise<ReportPaths> {
  throw new Error('writeReports is not implemented yet');
}

/** The summary table for stdout: one row per system/variant/mode/payload/grade/stage. */
export function renderSummaryTable(_records: StageRecord[]): string {
  throw new Error('renderSummaryTable is not implemented yet');
}
