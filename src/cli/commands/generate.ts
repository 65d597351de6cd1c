/** `generate`: build the data sets of SPEC §3 (idempotent: existing sets are verified and kept). */
import cliProgress from 'cli-progress';
import type { CommandModule } from './types.js';
import { EXIT } from '../../core/errors.js';
import { getVerbosity, log } from '../../core/log.js';
import { addDatasetOptions, loadCommandConfig, resolveDataDir, resolveDatasetParameters } from '../options.js';
import { ensureDataset, formatBytes } from '../../dataset/index.js';

export const command: CommandModule = {
  register: (program) =>
    addDatasetOptions(program.command('generate').description('build data sets with an exact share of duplicates into --data-dir')),
  run: async (_args, options) => {
    const config = loadCommandConfig(options);
    // Everything is validated before the first byte is written.
    const sets = resolveDatasetParameters(options, config);
    const dataDir = resolveDataDir(options, config);
    const abort = new AbortController();
    const stop = (): void => abort.abort(new Error('interrupted'));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const bar =
      process.stderr.isTTY && getVerbosity() !== 'quiet'
        ? new cliProgress.SingleBar({ format: '{set} [{bar}] {value}/{total} files', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
        : null;
    try {
      for (const params of sets) {
        const label = `${params.payloadType}/${params.grade}`;
        const started = performance.now();
        bar?.start(params.files, 0, { set: label });
        const result = await ensureDataset(params, dataDir, { signal: abort.signal, onProgress: (done) => bar?.update(done) });
        bar?.stop();
        const seconds = (performance.now() - started) / 1000;
        const totals = result.manifest.totals;
        log.info(
          `${label}: ${totals.files} files (${totals.uniqueFiles} unique, ${totals.duplicateFiles} duplicates), ` +
            `${formatBytes(totals.logicalBytes)}, ideal EDR ${totals.idealEdr.toFixed(3)} — ` +
            `${result.generated ? 'generated' : 'verified and kept'} in ${seconds.toFixed(2)} s ` +
            `(${(totals.logicalBytes / 1e6 / Math.max(seconds, 1e-6)).toFixed(0)} MB/s) → ${result.dir}`,
        );
      }
    } finally {
      bar?.stop();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return EXIT.ok;
  },
};
