/**
 * Shared option helpers: the data-set flags of `generate`, `run` and `demo`, resolved against the
 * config into validated `DatasetParameters` (CLI flags override the config file).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfigFile, parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { UsageError, parseChoiceList } from '../core/errors.js';
import type { DatasetParameters } from '../dataset/manifest.js';
import { looksLikeUrl, redactUserInfo, registerSourceUrl } from '../dataset/download.js';
import { DEFAULT_GRADES, parseGrade } from '../dataset/grades.js';
import { parseSize } from '../dataset/size.js';
import { filesForTotalSize } from '../dataset/total-size.js';
import { isRealWorldType, isSyntheticType, MIXED, SYNTHETIC_TYPES, USER_TYPE_PATTERN, validPayloadTypes } from '../dataset/types.js';

export const DUP_DISTRIBUTIONS = ['uniform', 'zipf'] as const;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function addDatasetOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'where data sets live (default: config dataDir, ./data)')
    .option('--payload-types <list>', 'comma-separated payload types (default: the synthetic types, plus types with a source)')
    .option('--grades <list>', `comma-separated grades U0…U99 (default: ${DEFAULT_GRADES.join(',')})`)
    .option('--files <n>', 'files per data set (default 100)')
    .option('--total-size <size>', 'size each data set by total bytes instead, e.g. 1GiB (as many files as the size range needs)')
    .option('--min-size <size>', 'smallest file, e.g. 4KiB (default 4 KiB)')
    .option('--max-size <size>', 'largest file, e.g. 1MiB (default 1 MiB)')
    .option('--file-size <size>', 'every file exactly this size (overrides --min-size/--max-size)')
    .option('--seed <n>', 'seed of every random choice (default 42)')
    .option('--source <type=path|url>', 'real-world source for a payload type: file, folder, .gz, or http(s) URL (downloaded into a cache; #sha256=HEX pins it) (repeatable)', collect)
    .addOption(new Option('--dup-distribution <name>', 'which earlier file a duplicate copies: uniform or zipf (default uniform)'));
}

/** Load `--config FILE` (or an empty config with every default). */
export function loadCommandConfig(options: Record<string, unknown>): Config {
  return typeof options.config === 'string' ? loadConfigFile(options.config) : parseConfig({});
}

export function resolveDataDir(cliOptions: Record<string, unknown>, config: Config): string {
  const dir = typeof cliOptions.dataDir === 'string' ? cliOptions.dataDir : config.dataDir;
  if (dir.trim() === '') throw new UsageError('invalid data dir ""; valid: a folder path');
  return resolve(dir);
}

/** `--files`, `--seed`: non-negative decimal integers only (no 1e3, no 0x10, no -3). */
export function parseCount(raw: unknown, what: string, min: number): number {
  const text = String(raw).trim();
  const value = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`invalid ${what} ${JSON.stringify(String(raw))}; valid: an integer ≥ ${min}`);
  }
  return value;
}

/**
 * `TYPE=PATH` / `TYPE=URL` entries from the CLI, merged over the config's `dataset.sources`. URLs
 * are validated here (and their credentials registered as secrets) before anything is written.
 */
export function resolveSources(cliOptions: Record<string, unknown>, config: Config): Record<string, string> {
  const sources: Record<string, string> = { ...config.dataset.sources };
  const raw = (cliOptions.source as string[] | undefined) ?? [];
  for (const entry of raw) {
    const at = entry.indexOf('=');
    const type = at > 0 ? entry.slice(0, at).trim() : '';
    const path = at > 0 ? entry.slice(at + 1).trim() : '';
    if (!type || !path) {
      throw new UsageError(`invalid --source ${JSON.stringify(redactUserInfo(entry))}; valid: TYPE=PATH or TYPE=URL, e.g. gutenberg_text=./books.txt.gz or github_events=https://example.org/events.jsonl.gz`);
    }
    sources[type] = path;
  }
  for (const type of Object.keys(sources)) {
    if (!USER_TYPE_PATTERN.test(type) || isSyntheticType(type) || type === MIXED) {
      throw new UsageError(
        `invalid source type ${JSON.stringify(type)}; valid: a real-world type (nasa_image, blender_video, gutenberg_text, github_events, text_corpus) or a new name matching ${USER_TYPE_PATTERN}`,
      );
    }
    if (looksLikeUrl(sources[type] as string)) registerSourceUrl(sources[type] as string);
    else checkLocalSource(type, sources[type] as string);
  }
  return sources;
}

/** A local source must exist and be a file or folder now, not when its set's turn comes (nothing written before). */
function checkLocalSource(type: string, path: string): void {
  let info;
  try {
    info = statSync(path);
  } catch {
    throw new UsageError(`invalid source for ${type}: ${JSON.stringify(path)} does not exist or cannot be read; valid: an existing file, folder or .gz file, or an http(s) URL`);
  }
  if (!info.isFile() && !info.isDirectory()) throw new UsageError(`invalid source for ${type}: ${JSON.stringify(path)} is neither a file nor a folder; valid: a file, folder or .gz file, or an http(s) URL`);
}

/** One validated parameter set per payload type × grade. Throws UsageError before anything is written. */
export function resolveDatasetParameters(cliOptions: Record<string, unknown>, config: Config): DatasetParameters[] {
  const sources = resolveSources(cliOptions, config);
  const valid = validPayloadTypes(sources);
  const payloadTypes =
    typeof cliOptions.payloadTypes === 'string'
      ? parseChoiceList('payload type', cliOptions.payloadTypes, valid)
      : config.dataset.payloadTypes
        ? config.dataset.payloadTypes.map((type) => {
            if (!valid.includes(type)) throw new UsageError(`unknown payload type ${JSON.stringify(type)} in config dataset.payloadTypes; valid: ${valid.join(', ')}`);
            return type;
          })
        : [...SYNTHETIC_TYPES, ...Object.keys(sources)];
  const gradeList =
    typeof cliOptions.grades === 'string'
      ? cliOptions.grades
          .split(',')
          .map((grade) => grade.trim())
          .filter(Boolean)
      : config.dataset.grades;
  if (gradeList.length === 0) throw new UsageError('empty grade list; valid: U0 … U99 (e.g. U0, U50, U90)');
  const grades = [...new Set(gradeList)];
  for (const grade of grades) parseGrade(grade);

  const files = cliOptions.files !== undefined ? parseCount(cliOptions.files, 'files', 1) : config.dataset.files;
  const seed = cliOptions.seed !== undefined ? parseCount(cliOptions.seed, 'seed', 0) : config.dataset.seed;
  let minSize = cliOptions.minSize !== undefined ? parseSize(String(cliOptions.minSize), 'min size') : config.dataset.minSize;
  let maxSize = cliOptions.maxSize !== undefined ? parseSize(String(cliOptions.maxSize), 'max size') : config.dataset.maxSize;
  if (cliOptions.fileSize !== undefined) {
    minSize = maxSize = parseSize(String(cliOptions.fileSize), 'file size');
  }
  if (minSize > maxSize) throw new UsageError(`invalid sizes: min size ${minSize} is larger than max size ${maxSize}; valid: min ≤ max`);
  const distributionRaw = typeof cliOptions.dupDistribution === 'string' ? cliOptions.dupDistribution : config.dataset.dupDistribution;
  const [dupDistribution] = parseChoiceList('dup distribution', distributionRaw, DUP_DISTRIBUTIONS) as ('uniform' | 'zipf')[];

  for (const type of payloadTypes) {
    if ((isRealWorldType(type) || !isSyntheticType(type)) && type !== MIXED && !sources[type]) {
      throw new UsageError(`payload type ${type} needs a source: --source ${type}=PATH (file, folder or .gz) or ${type}=URL`);
    }
  }
  const totalSize = resolveTotalSize(cliOptions, config);
  return payloadTypes.flatMap((payloadType) =>
    grades.map((grade) => {
      const params: DatasetParameters = {
        payloadType,
        grade,
        files,
        minSize,
        maxSize,
        seed,
        dupDistribution: dupDistribution ?? 'uniform',
        source: sources[payloadType] ? sourceParameter(sources[payloadType]) : null,
      };
      return totalSize === undefined ? params : { ...params, files: filesForTotalSize(params, totalSize), totalSize };
    }),
  );
}

/** `--total-size` / `dataset.totalSize` in bytes; undefined when the set is sized by `files`. */
function resolveTotalSize(cliOptions: Record<string, unknown>, config: Config): number | undefined {
  const raw = cliOptions.totalSize ?? config.dataset.totalSize;
  if (raw === undefined) return undefined;
  if (cliOptions.files !== undefined && cliOptions.totalSize !== undefined) throw new UsageError('--files and --total-size both size the data set; valid: one of them');
  return typeof raw === 'number' ? raw : parseSize(String(raw), 'total size');
}

/** A local source as an absolute path; a URL as its display form (no credentials, no pin): what the manifest records. */
function sourceParameter(value: string): string {
  return looksLikeUrl(value) ? registerSourceUrl(value).display : resolve(value);
}
