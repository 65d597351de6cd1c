/** `run`: the experiment matrix of SPEC §4 (generates missing data sets itself). */
import type { Command } from 'commander';
import type { CommandModule } from './types.js';
import { EXIT } from '../../core/errors.js';
import { assumeRecordedSourceDigest } from '../../dataset/index.js';
import { addDatasetOptions, loadCommandConfig } from '../options.js';
import { describePlan, resolveResultsDir, resolveRunSetup, splitList } from '../../experiment/setup.js';
import { executeRun } from '../../experiment/execute.js';
import { completeCells } from '../../experiment/runner.js';
import { existsSync } from 'node:fs';
import { UsageError, invalidChoice } from '../../core/errors.js';
import { SYSTEM_ALIASES } from '../../systems/registry.js';

/** The run flags shared by `run` (and the subset `demo` takes). */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--systems <list>', 'systems to run: ids (s3 = minio) or instance names from the config')
    .option('--variants <list>', 'system:variant entries or bare variant names (default: every variant)')
    .option('--stages <list>', 'subset of bulk_insert,compaction,perfile_insert,perfile_delete,maintenance (opt-in: maintenance_full,refill,read)')
    .option('--delete-methods <list>', 'how the delete stage deletes: perfile,bulk,truncate,drop — one cell each (default perfile)')
    .option('--delete-scope <scope>', 'all or duplicates (delete only the copies, keep one file per content) (default all)')
    .option('--placement <where>', 'within (one table/topic/bucket/stream) or across:K (round-robin over K of them) (default within)')
    .option('--cache <state>', 'read stage cache state: warm or cold (default warm)')
    .option('--mode <mode>', 'blob, native or both (default blob)')
    .option('--runs <n>', 'repetitions per cell (default 1)')
    .option('--results-dir <dir>', 'where results go (default ./results/<timestamp>; an existing dir resumes)')
    .option('--fresh', 'ignore checkpoints: redo every cell')
    .option('--repeat <system>', 'redo the cells of this system (id or instance) despite checkpoints')
    .option('--max-retries <n>', 'retries per cell after a failure (default 2)')
    .option('--dry-run', 'print the plan and write nothing anywhere')
    .option('--keep-lab', 'leave lab data in place after the last cell')
    .option('--trace-interval <ms>', 'trace sampling interval in ms (default 1000, min 100)')
    .option('--reclaim-window <s>', 'longest reclaim watch after delete/maintenance/compaction, seconds (default 600)');
}

export const command: CommandModule = {
  register: (program) => addDatasetOptions(addRunOptions(program.command('run').description('run the experiment matrix (generates missing data sets)'))),
  run: async (_args, options) => {
    const config = loadCommandConfig(options);
    const setup = await resolveRunSetup(options, config);
    const resultsDir = resolveResultsDir(options, config);
    const repeat = (splitList(options.repeat) ?? []).map((name) => SYSTEM_ALIASES[name] ?? name);
    const known = setup.targets.flatMap((target) => [target.instance, target.definition.id]);
    for (const name of repeat) if (!known.includes(name)) throw invalidChoice('--repeat system', name, [...new Set(known)]);
    if (options.fresh === true && repeat.length > 0) throw new UsageError('--fresh and --repeat exclude each other: --fresh already redoes every cell');
    if (options.dryRun === true) {
      // No download in a dry run: URL sets are assumed unchanged since their manifest was written.
      const datasets = await Promise.all(setup.datasets.map((params) => assumeRecordedSourceDigest(params, setup.dataDir)));
      const skip = completeCells(setup.plan, datasets, resultsDir, options.fresh === true, repeat);
      process.stdout.write(`${await describePlan(setup, skip)}\nresults dir: ${resultsDir}${existsSync(resultsDir) ? ' (exists: resumes)' : ' (not created: dry run)'}\n`);
      return EXIT.ok;
    }
    // The results dir is named by the runner once it holds the dir's lock (a refusal stays one line).
    return executeRun({ config, setup, resultsDir, fresh: options.fresh === true, repeat });
  },
};
