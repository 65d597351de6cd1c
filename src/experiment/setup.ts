/**
 * From CLI options + config to everything a run, check or cleanup needs: the chosen system
 * targets (definitions loaded, options validated), the plan and the data sets. All validation
 * happens here, before anything is written or connected (bad input → UsageError, exit 2).
 */
import { resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { resolveDataDir, resolveDatasetParameters } from '../cli/options.js';
import type { Config, SystemEntry } from '../config/schema.js';
import type { DatasetParameters } from '../dataset/manifest.js';
import { assumeRecordedSourceDigest, datasetDir, readManifest, sameParameters } from '../dataset/generate.js';
import { loadSystem } from '../systems/registry.js';
import { checkResultsDir } from './results-dir.js';
import { checkPrimaryProbe } from '../systems/shared/probe-names.js';
import { timeoutsFor, withOperationTimeouts } from '../systems/shared/timeouts.js';
import { assertLabName, InvalidLabNameError, type SystemAdapter } from '../systems/types.js';
import { resolveDimensions } from './dimension-options.js';
import { parseMaxRetries, parseMode, parseRuns, parseStages, planCells, selectEntries, type Plan, type SystemTarget } from './plan.js';

export function splitList(raw: unknown): string[] | undefined {
  if (typeof raw !== 'string') return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** The lab name is checked before any I/O: an injection-shaped name never reaches a system. */
export function checkedLabName(config: Config): string {
  try {
    return assertLabName(config.labName);
  } catch (error) {
    if (error instanceof InvalidLabNameError) throw new UsageError(`config labName: ${error.message}`);
    throw error;
  }
}

/** Load each chosen entry's definition and validate its options (a bad option is a usage error). */
export async function resolveTargets(config: Config, systemsArg: string[] | undefined, defaultOptions?: (entry: SystemEntry) => Record<string, unknown>): Promise<SystemTarget[]> {
  checkedLabName(config);
  const entries = selectEntries(config.systems, systemsArg ?? config.run.systems);
  const targets: SystemTarget[] = [];
  const seen = new Set<string>();
  for (const configured of entries) {
    const instance = configured.instance ?? configured.id;
    if (seen.has(instance)) throw new UsageError(`config systems: instance ${JSON.stringify(instance)} appears twice; give each entry its own instance name`);
    seen.add(instance);
    const definition = await loadSystem(configured.id);
    const options = Object.keys(configured.options).length > 0 ? configured.options : (defaultOptions?.(configured) ?? {});
    const entry: SystemEntry = { ...configured, options };
    definition.parseOptions(entry.options);
    checkPrimaryProbe(definition.id, instance, entry);
    targets.push({ entry, instance, definition });
  }
  return targets;
}

/** Create an adapter for a target (options validated again by the definition), every operation bounded by a timeout. */
export function createAdapter(target: SystemTarget, config: Config): SystemAdapter {
  const adapter = target.definition.create(target.instance, target.definition.parseOptions(target.entry.options), checkedLabName(config));
  return withOperationTimeouts(adapter, timeoutsFor(target.definition.id, target.entry.options));
}

export interface RunSetup {
  targets: SystemTarget[];
  plan: Plan;
  datasets: DatasetParameters[];
  dataDir: string;
  maxRetries: number;
  traceIntervalMs: number;
  /** Upper bound of the reclaim watch, seconds (`run.reclaimWindowS`, `--reclaim-window`). */
  reclaimWindowS: number;
  keepLab: boolean;
}

export async function resolveRunSetup(
  cliOptions: Record<string, unknown>,
  config: Config,
  overrides: { datasets?: DatasetParameters[]; dataDir?: string; defaultOptions?: (entry: SystemEntry) => Record<string, unknown> } = {},
): Promise<RunSetup> {
  const datasets = overrides.datasets ?? resolveDatasetParameters(cliOptions, config);
  const dataDir = overrides.dataDir ?? resolveDataDir(cliOptions, config);
  const targets = await resolveTargets(config, splitList(cliOptions.systems), overrides.defaultOptions);
  const stages = parseStages(splitList(cliOptions.stages) ?? config.run.stages);
  const mode = parseMode(typeof cliOptions.mode === 'string' ? cliOptions.mode : config.run.mode);
  const runs = cliOptions.runs !== undefined ? parseRuns(cliOptions.runs as string) : config.run.runs;
  const maxRetries = cliOptions.maxRetries !== undefined ? parseMaxRetries(cliOptions.maxRetries as string) : config.run.maxRetries;
  const variants = splitList(cliOptions.variants) ?? config.run.variants;
  const plan = planCells({ targets, variants, stages, mode, datasets, runs, dimensions: resolveDimensions(cliOptions, config) });
  let traceIntervalMs = config.run.traceIntervalMs;
  if (cliOptions.traceInterval !== undefined) {
    const value = Number(cliOptions.traceInterval);
    if (!Number.isInteger(value) || value < 100) throw new UsageError(`invalid --trace-interval ${JSON.stringify(String(cliOptions.traceInterval))}; valid: an integer ≥ 100 (milliseconds)`);
    traceIntervalMs = value;
  }
  const reclaimWindowS = cliOptions.reclaimWindow !== undefined ? parseReclaimWindow(cliOptions.reclaimWindow) : config.run.reclaimWindowS;
  return { targets, plan, datasets, dataDir, maxRetries, traceIntervalMs, reclaimWindowS, keepLab: cliOptions.keepLab === true || config.run.keepLab };
}

/** `./results/<timestamp>` unless the CLI or the config names the results dir. */
export function resolveResultsDir(cliOptions: Record<string, unknown>, config: Config, now: Date = new Date()): string {
  if (typeof cliOptions.resultsDir === 'string') {
    if (cliOptions.resultsDir.trim() === '') throw new UsageError('invalid --results-dir ""; valid: a folder path');
    return checkedResultsDir(resolve(cliOptions.resultsDir));
  }
  if (config.resultsDir) return checkedResultsDir(resolve(config.resultsDir));
  return checkedResultsDir(resolve('results', now.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '')));
}

function checkedResultsDir(dir: string): string {
  checkResultsDir(dir);
  return dir;
}

/** The plan as text for --dry-run and check: systems, cells, and which data sets exist or will be generated. */
/** `skip` marks cells a run would skip (complete in the results dir); omitted = none. */
export async function describePlan(setup: RunSetup, skip: ReadonlySet<string> = new Set()): Promise<string> {
  const lines: string[] = [];
  const { plan } = setup;
  lines.push(`systems: ${setup.targets.map((target) => (target.instance === target.definition.id ? target.instance : `${target.definition.id}@${target.instance}`)).join(', ')}`);
  lines.push(`stages: ${plan.stages.join(', ')}`);
  for (const note of plan.notes) lines.push(`note: ${note}`);
  lines.push(`data sets (${setup.dataDir}):`);
  for (const params of setup.datasets) {
    let state = 'missing — will be generated';
    try {
      const manifest = await readManifest(datasetDir(setup.dataDir, params.payloadType, params.grade));
      const known = await assumeRecordedSourceDigest(params, setup.dataDir);
      if (!sameParameters(manifest.parameters, known)) state = 'different parameters — will be regenerated';
      else if (known.sourceSha256) state = 'present — kept if the URL still serves the same bytes (revalidated at run time)';
      else state = 'present — will be verified and kept';
    } catch {
      // no manifest: missing
    }
    lines.push(`  ${params.payloadType}/${params.grade}: ${params.files} files, ${params.minSize}–${params.maxSize} bytes, seed ${params.seed}: ${state}`);
  }
  lines.push(`cells (${plan.cells.length}${skip.size > 0 ? `, ${skip.size} already complete` : ''}):`);
  for (const cell of plan.cells) {
    const notes = [cell.notApplicable ? `not applicable: ${cell.notApplicable}` : '', skip.has(cell.cellId) ? 'complete — skipped' : ''].filter(Boolean);
    lines.push(`  ${cell.cellId}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`);
  }
  return lines.join('\n');
}

/** `--reclaim-window <s>`: a whole number of seconds ≥ 1. */
export function parseReclaimWindow(raw: unknown): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`invalid --reclaim-window ${JSON.stringify(String(raw))}; valid: an integer ≥ 1 (seconds)`);
  return value;
}
