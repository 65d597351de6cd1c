/** The table `estimate --dir` prints for a simulated block-dedup result. */
import { formatBytes } from '../dataset/size.js';
import { COMPRESS_ALWAYS_BYTES, MARGIN_STANDARD_ERRORS, type BlockDedupResult, type DedupTally } from './blockdedup.js';
import { HASH_ALGORITHM } from './blockhash.js';

/** A ratio with its sampling margin (relative, from the margin on its denominator) when that is visible. */
function withMargin(value: number, margin: number, denominator: number): string {
  const relative = denominator > 0 ? margin / denominator : 0;
  return relative >= 0.0005 ? `${value.toFixed(3)} ±${(relative * 100).toFixed(1)}%` : value.toFixed(3);
}

export function formatBlockDedupTable(result: BlockDedupResult): string {
  const header = ['unit', 'pieces', 'distinct', 'zero bytes', 'dedup', 'compress', 'dedup+compress'];
  const row = (unit: string, tally: DedupTally): string[] => [
    unit,
    String(tally.pieces),
    String(tally.uniquePieces),
    formatBytes(tally.zeroBytes),
    tally.dedupRatio.toFixed(3),
    withMargin(tally.compressionRatio, tally.compressedBytesMargin, tally.compressedBytes),
    withMargin(tally.storageRatio, tally.allocatedBytesMargin, tally.allocatedBytes),
  ];
  const rows = [...result.fixed.map((tally) => row(`${tally.blockSize / 1024} KiB`, tally)), row('FastCDC', result.cdc)];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((cells) => (cells[i] as string).length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ');
  const seconds = result.durationMs / 1000;
  return [
    `${result.path}: ${result.files} files, ${formatBytes(result.bytes)}${result.skippedFiles > 0 ? `, ${result.skippedFiles} unreadable files skipped` : ''}, ${readMode(result)}, ${seconds.toFixed(1)} s (${(result.bytes / 1e6 / Math.max(seconds, 1e-9)).toFixed(0)} MB/s)`,
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    '',
    `fixed blocks aligned to each file offset, ${HASH_ALGORITHM}; FastCDC (normalized level 2) min/avg/max ` +
      `${result.cdc.minSize}/${result.cdc.avgSize}/${result.cdc.maxSize} bytes.`,
    `compress: ${result.compressor}, measured on the first ${formatBytes(COMPRESS_ALWAYS_BYTES)} of distinct blocks per unit, then on 1/${result.compressionSampleRate} of the rest chosen by digest, whose ratio stands for the rest (± ${MARGIN_STANDARD_ERRORS} standard errors of that sample).`,
    `dedup+compress: bytes / what a ZFS-like layer allocates (${result.sectorBytes}-byte sectors, compression kept only when it saves 1/8, zero blocks as holes; CDC chunks packed).`,
  ].join('\n');
}

/** How the files were read: O_DIRECT (past the page cache) or through it. */
function readMode(result: BlockDedupResult): string {
  if (result.files === 0) return 'nothing read';
  if (result.directFiles === result.files) return 'read with O_DIRECT';
  if (result.directFiles === 0) return 'read through the page cache';
  return `${result.directFiles} of ${result.files} files read with O_DIRECT`;
}
