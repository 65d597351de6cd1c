/**
 * `demo`: zero configuration. A small generated data set (random_binary and text_document at
 * U0/U50/U90), every variant of the three embedded systems in blob mode, the summary table and
 * the paths of the results and the HTML report. Everything goes to a fresh temporary folder
 * unless --results-dir / --data-dir say where; the results dir holds the same files as `run`'s.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CommandModule } from './types.js';
import { EXIT } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { parseConfig } from '../../config/load.js';
import type { DatasetParameters } from '../../dataset/manifest.js';
import { DEMO_SYSTEMS } from '../../systems/registry.js';
import { describePlan, resolveRunSetup } from '../../experiment/setup.js';
import { executeRun } from '../../experiment/execute.js';

/** Sized so the whole demo (5 variants × 6 sets × 5 stages) stays well under 60 s on 2 cores. */
export const DEMO_DATASET = {
  payloadTypes: ['random_binary', 'text_document'],
  grades: ['U0', 'U50', 'U90'],
  files: 30,
  minSize: 16 * 1024,
  maxSize: 128 * 1024,
  seed: 42,
} as const;

export function demoDatasets(): DatasetParameters[] {
  return DEMO_DATASET.payloadTypes.flatMap((payloadType) =>
    DEMO_DATASET.grades.map((grade) => ({
      payloadType,
      grade,
      files: DEMO_DATASET.files,
      minSize: DEMO_DATASET.minSize,
      maxSize: DEMO_DATASET.maxSize,
      seed: DEMO_DATASET.seed,
      dupDistribution: 'uniform' as const,
      source: null,
    })),
  );
}

export const command: CommandModule = {
  register: (program) =>
    program
      .command('demo')
      .description('zero-configuration run of the embedded systems (pglite, sqlite, duckdb) on a small generated data set')
      .option('--results-dir <dir>', 'where results go (default: a fresh temporary folder)')
      .option('--data-dir <dir>', 'where the demo data set goes (default: inside the temporary folder)')
      .option('--dry-run', 'print the plan and write nothing anywhere'),
  run: async (_args, options) => {
    const config = parseConfig({});
    // The temporary folder is only created when something will be written.
    let base: string | null = null;
    const baseDir = () => (base ??= mkdtempSync(join(tmpdir(), 'dedup-lab-demo-')));
    const dataDir = typeof options.dataDir === 'string' ? resolve(options.dataDir) : null;
    const resultsDirOption = typeof options.resultsDir === 'string' ? resolve(options.resultsDir) : null;
    const labDir = (id: string) => join(resultsDirOption ?? baseDir(), 'lab', id);
    const cli = { systems: DEMO_SYSTEMS.join(','), mode: 'blob', keepLab: false };
    if (options.dryRun === true) {
      const setup = await resolveRunSetup(cli, config, { datasets: demoDatasets(), dataDir: dataDir ?? '<temporary folder>/data', defaultOptions: () => ({}) });
      process.stdout.write(`${await describePlan(setup)}\nresults dir: ${resultsDirOption ?? '<a new temporary folder>'} (not created: dry run)\n`);
      return EXIT.ok;
    }
    const resultsDir = resultsDirOption ?? join(baseDir(), 'results');
    const setup = await resolveRunSetup(cli, config, {
      datasets: demoDatasets(),
      dataDir: dataDir ?? join(baseDir(), 'data'),
      defaultOptions: (entry) => ({ dataDir: labDir(entry.id) }),
    });
    log.info(`demo: ${setup.plan.cells.length} cells; results in ${resultsDir}`);
    return executeRun({ config, setup, resultsDir, fresh: false, repeat: [] });
  },
};
