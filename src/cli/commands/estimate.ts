/** `estimate DIR`: file, 4 KiB block and FastCDC dedup ratios plus compressibility per data set. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandModule } from './types.js';
import { EXIT, UsageError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { DEFAULT_CDC } from '../../dataset/fastcdc.js';
import { formatBytes } from '../../dataset/size.js';
// Types only: the data-set estimate (≈ 100 ms of imports) loads only for that path, not for --dir.
import type { SetEstimate } from '../../dataset/index.js';

type DatasetEstimate = typeof import('../../dataset/estimate.js');

function formatEstimateTable(estimates: SetEstimate[], { COMPRESSOR, COMPRESSION_SAMPLE_BYTES }: DatasetEstimate): string {
  const header = ['payload type', 'grade', 'files', 'bytes', 'file EDR', '4K block', 'CDC', 'compress'];
  const rows = estimates.map((e) => [
    e.payloadType,
    e.grade,
    String(e.files),
    formatBytes(e.logicalBytes),
    e.fileLevel.ratio.toFixed(3) + (e.fileLevel.matchesManifest ? '' : ' (!)'),
    e.block4k.ratio.toFixed(3),
    e.cdc.ratio.toFixed(3),
    e.compressibility.ratio.toFixed(3),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ');
  return [
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    '',
    `file EDR: total bytes / bytes of distinct files (must equal the manifest's ideal EDR). 4K block: fixed ${4096}-byte blocks, sha256.`,
    `CDC: FastCDC (normalized, level 2) min ${DEFAULT_CDC.min} / avg ${DEFAULT_CDC.avg} / max ${DEFAULT_CDC.max} bytes, sha256 per chunk.`,
    `compress: ${COMPRESSOR} on the distinct files, each compressed on its own, up to ${formatBytes(COMPRESSION_SAMPLE_BYTES)} per set.`,
  ].join('\n');
}

export const command: CommandModule = {
  register: (program) =>
    program
      .command('estimate')
      .description('print the dedup potential of data sets: file, 4 KiB block and content-defined-chunk ratios, and compressibility')
      .argument('[dir]', 'a data dir, a payload-type folder or one grade folder')
      .option('--dir <path>', 'instead: simulate block dedup (4–128 KiB, FastCDC) and LZ4 compression over any folder or file (SPEC §12)')
      .option('--json', 'print JSON instead of a table')
      .option('--no-direct', 'with --dir: read through the page cache (default: O_DIRECT where the file system takes it, so a scan measures the disk and leaves the cache as it was)'),
  run: async (args, options) => {
    if (options.dir !== undefined) return estimateAnyDir(String(options.dir), { json: options.json === true, direct: options.direct !== false }, args[0]);
    if (args[0] === undefined) throw new UsageError('estimate needs a data set folder, or --dir PATH for any folder or file');
    const dataset = await import('../../dataset/estimate.js');
    const dirs = await dataset.findDatasetDirs(resolve(String(args[0])));
    const estimates: SetEstimate[] = [];
    for (const dir of dirs) {
      log.debug(`estimating ${dir}`);
      estimates.push(await dataset.estimateDataset(dir));
    }
    process.stdout.write(options.json ? `${JSON.stringify(estimates, null, 2)}\n` : `${formatEstimateTable(estimates, dataset)}\n`);
    const damaged = estimates.filter((e) => !e.fileLevel.matchesManifest);
    for (const e of damaged) {
      log.error(`${e.dir}: file-level ratio ${e.fileLevel.ratio} differs from the manifest's ideal EDR ${e.fileLevel.manifestIdealEdr}: the data set was changed; regenerate it`);
    }
    return damaged.length > 0 ? EXIT.cellsFailed : EXIT.ok;
  },
};

/** `estimate --dir PATH`: the storage-layer simulation of src/storage/blockdedup.ts. */
async function estimateAnyDir(path: string, { json, direct }: { json: boolean; direct: boolean }, extra: unknown): Promise<number> {
  if (extra !== undefined) throw new UsageError(`estimate takes either a data set folder or --dir PATH, not both (got ${JSON.stringify(extra)} and --dir ${JSON.stringify(path)})`);
  const target = resolve(path);
  const stats = await stat(target).catch(() => null);
  if (!stats || !(stats.isDirectory() || stats.isFile())) throw new UsageError(`invalid --dir ${JSON.stringify(path)}: not a folder or file`);
  const { simulateBlockDedup } = await import('../../storage/blockdedup.js');
  const { formatBlockDedupTable } = await import('../../storage/format.js');
  const result = await simulateBlockDedup(target, { direct });
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${formatBlockDedupTable(result)}\n`);
  return EXIT.ok;
}
