import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from './types.js';
import { EXIT, UsageError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { buildReports, renderSummaryTable } from '../../report/index.js';

/** `report RESULTS_DIR`: rebuild results.json, results.csv, summary.md and report.html, print the table. */
export const command: CommandModule = {
  register: (program) =>
    program
      .command('report')
      .argument('<results-dir>', 'a results dir written by run or demo (holds results.jsonl)')
      .option('--figures <dir>', 'also write every chart as SVG and PNG (and an EDR matrix per payload type) into this dir')
      .description('rebuild the summary table, CSV, JSON, Markdown and the HTML report from stored results'),
  run: async (args, options) => {
    const resultsDir = resolve(String(args[0]));
    if (!existsSync(resultsDir) || !statSync(resultsDir).isDirectory()) {
      throw new UsageError(`results dir ${JSON.stringify(resultsDir)} does not exist; give a dir written by run or demo`);
    }
    if (!existsSync(join(resultsDir, 'results.jsonl'))) {
      throw new UsageError(`no results.jsonl in ${JSON.stringify(resultsDir)}; give a dir written by run or demo`);
    }
    const figuresDir = typeof options.figures === 'string' ? resolve(options.figures) : null;
    if (figuresDir && existsSync(figuresDir) && !statSync(figuresDir).isDirectory()) {
      throw new UsageError(`--figures ${JSON.stringify(figuresDir)} is a file; give a dir (created when missing)`);
    }
    const { paths, records } = await buildReports(resultsDir);
    process.stdout.write(renderSummaryTable(records));
    log.info(`wrote ${paths.resultsJson}, ${paths.resultsCsv}, ${paths.summaryMd}`);
    log.info(`report: ${paths.reportHtml}`);
    if (figuresDir) {
      const { writeResultFigures } = await import('../../report/figures.js');
      const written = await writeResultFigures(resultsDir, figuresDir);
      log.info(`figures: ${written.length} SVG + PNG in ${figuresDir}`);
    }
    return EXIT.ok;
  },
};
