/** `cascade` (SPEC §8): systems one after another on a Kubernetes cluster, scaled up and down around their cells. */
import type { CommandModule } from './types.js';
import { EXIT, UsageError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { addDatasetOptions, loadCommandConfig } from '../options.js';
import { addRunOptions } from './run.js';
import { resolveResultsDir, resolveRunSetup, splitList } from '../../experiment/setup.js';
import { EXIT_INTERRUPTED, reportResults } from '../../experiment/execute.js';
import { SYSTEM_ALIASES } from '../../systems/registry.js';
import { planCascade, runCascade, scalableWorkloads } from '../../k8s/cascade.js';

export const command: CommandModule = {
  register: (program) =>
    addDatasetOptions(addRunOptions(program.command('cascade').description('run systems one after another on Kubernetes, scaling each non-production workload up before and down after its cells'))).option(
      '--context <name>',
      'kubeconfig context (default: the current one; inside a pod the ServiceAccount)',
    ),
  run: async (_args, options) => {
    if (options.dryRun === true) throw new UsageError('cascade has no --dry-run; valid: `dedup-lab run --dry-run` with the same config prints the plan');
    const config = loadCommandConfig(options);
    const setup = await resolveRunSetup(options, config);
    // Validated before any I/O: a production workload asking to be scaled stops here (exit 2).
    const steps = planCascade(config, setup);
    const resultsDir = resolveResultsDir(options, config);
    const repeat = (splitList(options.repeat) ?? []).map((name) => SYSTEM_ALIASES[name] ?? name);
    if (options.fresh === true && repeat.length > 0) throw new UsageError('--fresh and --repeat exclude each other: --fresh already redoes every cell');
    const context = typeof options.context === 'string' ? options.context : undefined;
    // Any scalable workload of the config, chosen or not: its leftovers are restored first.
    const needsCluster = scalableWorkloads(config).length > 0 || config.systems.some((entry) => entry.probes.prometheus?.volumes === 'auto');
    const { connectCluster } = await import('../../k8s/client.js');
    const cluster = needsCluster ? await connectCluster({ context }) : null;
    if (cluster) log.info(`cascade: cluster access through ${cluster.source}`);
    (await import('../../k8s/volumes.js')).setVolumesContext(context);
    log.info(`cascade: ${steps.length} systems: ${steps.map((step) => step.target.instance).join(', ')}; results: ${resultsDir}`);

    const abort = new AbortController();
    const stop = (signal: NodeJS.Signals) => {
      if (abort.signal.aborted) return log.warn(`${signal} again: still scaling down; wait for it`);
      log.warn(`${signal}: stopping after the current operation, then scaling the current system down`);
      abort.abort();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    let outcome;
    try {
      outcome = await runCascade({ config, setup, steps, cluster, resultsDir, fresh: options.fresh === true, repeat, signal: abort.signal, argv: process.argv.slice(2) });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    await reportResults(resultsDir);
    if (outcome.interrupted) {
      log.warn(`interrupted: run cascade again with --results-dir ${resultsDir} to resume`);
      return EXIT_INTERRUPTED;
    }
    if (outcome.failed.length > 0) {
      log.error(`cascade: failed systems: ${outcome.failed.map((failed) => `${failed.instance} (${failed.reason})`).join('; ')}`);
      return EXIT.cellsFailed;
    }
    log.info(`cascade: all ${steps.length} systems done, ${outcome.completedCells} cells completed`);
    return EXIT.ok;
  },
};
