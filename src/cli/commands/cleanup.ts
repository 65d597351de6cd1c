/** `cleanup`: drop the lab namespaces of the chosen systems, and nothing else (SPEC §2). */
import type { CommandModule } from './types.js';
import { EXIT } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { loadCommandConfig } from '../options.js';
import { resolveTargets, splitList } from '../../experiment/setup.js';
import { exitCodeOfReach, withEachSystem } from './check.js';

export const command: CommandModule = {
  register: (program) =>
    program
      .command('cleanup')
      .description('drop the lab namespaces of the chosen systems (default: every configured system), and nothing else')
      .option('--systems <list>', 'systems: ids (s3 = minio) or instance names from the config'),
  run: async (_args, options) => {
    const config = loadCommandConfig(options);
    const targets = await resolveTargets(config, splitList(options.systems));
    const results = await withEachSystem(targets, config, async (adapter) => {
      await adapter.dropLab();
      return `lab namespace ${config.labName} dropped`;
    });
    for (const result of results) {
      if (result.ok) process.stdout.write(`ok    ${result.instance}: ${result.detail}\n`);
      else process.stdout.write(`FAIL  ${result.instance}: ${result.detail}\n`);
    }
    const code = exitCodeOfReach(results);
    if (code === EXIT.unreachable) log.error('no chosen system is reachable');
    return code;
  },
};
