/** report.html: one self-contained file (no network needed to view it). */
import type { StageRecord, TraceEvent } from '../experiment/record.js';
import { summaryCells } from './summary.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export function renderHtmlReport(records: readonly StageRecord[], _trace: readonly TraceEvent[]): string {
  const { headers, rows } = summaryCells(records);
  const table = `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dedup-lab report</title></head><body><h1>dedup-lab report</h1>${table}</body></html>\n`;
}
