/** summary.md: tables a user pastes into a paper or a merge request. */
import type { StageRecord } from '../experiment/record.js';
import { aggregate } from './stats.js';
import { probeNames } from './csv.js';
import { renderVerdictMarkdown } from './verdict.js';
import {
  formatAggregate,
  groupRecords,
  isWriteStage,
  markdownTable,
  physicalPerCopy,
  summaryCells,
  SUMMARY_COLUMNS,
  systemLabel,
} from './summary.js';

const UNITS_NOTE = [
  'Units: MB = 10^6 bytes; latency in milliseconds (nearest-rank percentiles over every per-file operation);',
  'MB/s counts acknowledged payload bytes only. `phys Δ MB` is the primary probe’s after − before for the stage',
  '(all copies it counts); EDR = stored logical bytes / ((after − empty baseline) / replicas).',
  'With several runs a value reads `mean ± sd [min–max]` (sd = sample standard deviation, n − 1);',
  '`(n=k/N)` means only k of N runs had a value. `—` = not applicable or not measured.',
].join(' ');

/** EDR of every probe for the write stages: shows where probes disagree (e.g. internal vs fs). */
function probeEdrTable(records: readonly StageRecord[]): string | null {
  const writeGroups = groupRecords(records).filter((group) => isWriteStage(group.stage));
  const names = probeNames(records);
  if (writeGroups.length === 0 || names.length < 2) return null;
  // Each probe's layer in its header (SPEC §6.2), e.g. `EDR lab_fs (storage)`.
  const layerOf = new Map(records.flatMap((record) => record.probes.map((probe) => [probe.name, probe.layer] as const)).filter(([, layer]) => layer !== undefined));
  const label = (name: string) => (layerOf.has(name) ? `${name} (${layerOf.get(name)})` : name);
  const headers = ['system', 'variant', 'mode', 'payload', 'grade', 'stage', ...names.flatMap((n) => [`EDR ${label(n)}`, `phys MB/copy ${label(n)}`])];
  const rows = writeGroups.map((group) => [
    systemLabel(group),
    group.variant,
    group.mode,
    group.payloadType,
    group.grade,
    group.stage,
    ...names.flatMap((name) => {
      const probes = group.records.map((record) => record.probes.find((probe) => probe.name === name));
      return [
        formatAggregate(aggregate(probes.map((probe) => probe?.edr ?? null)), 2),
        formatAggregate(aggregate(probes.map((probe) => {
          const bytes = physicalPerCopy(probe);
          return bytes === null ? null : bytes / 1e6;
        }))),
      ];
    }),
  ]);
  return markdownTable(headers, rows, headers.map((_, index) => index >= 6));
}

export function renderSummaryMarkdown(records: readonly StageRecord[], generatedAt = new Date()): string {
  const runIds = [...new Set(records.map((record) => record.runId))];
  const failed = records.filter((record) => record.error);
  const { headers, rows } = summaryCells(records);
  const parts = [
    '# dedup-lab results',
    '',
    `Generated ${generatedAt.toISOString()} from ${records.length} stage records of run ${runIds.map((id) => `\`${id}\``).join(', ') || '(none)'}.`,
    '',
    UNITS_NOTE,
  ];
  const verdicts = renderVerdictMarkdown(records);
  if (verdicts) parts.push('', '## Where does deduplication happen?', '', verdicts);
  parts.push(
    '',
    '## Summary',
    '',
    records.length === 0 ? '_No results._' : markdownTable(headers, rows, SUMMARY_COLUMNS.map((column) => column.numeric)),
  );
  const probeTable = probeEdrTable(records);
  if (probeTable) parts.push('', '## EDR by probe', '', probeTable);
  if (failed.length > 0) {
    parts.push('', '## Failed stages', '');
    for (const record of failed) {
      parts.push(`- \`${record.cellId}\` ${record.stage} (attempt ${record.attempt}): ${record.error!.kind}: ${record.error!.message.replace(/\r?\n/g, ' ')}`);
    }
  }
  return `${parts.join('\n')}\n`;
}
