/**
 * CLI entry: builds the commander program from one module per subcommand (src/cli/commands)
 * and maps errors to the exit codes of SPEC §2.
 */
import { Command, CommanderError } from 'commander';
import { errorMessage, EXIT, UsageError } from '../core/errors.js';
import { log, setVerbosity } from '../core/log.js';
import { TOOL_VERSION } from '../version.js';
import type { CommandModule } from './commands/types.js';

const COMMAND_MODULES: (() => Promise<{ command: CommandModule }>)[] = [
  () => import('./commands/generate.js'),
  () => import('./commands/estimate.js'),
  () => import('./commands/run.js'),
  () => import('./commands/report.js'),
  () => import('./commands/check.js'),
  () => import('./commands/cleanup.js'),
  () => import('./commands/demo.js'),
  () => import('./commands/cascade.js'),
  () => import('./commands/k8s.js'),
];

export async function buildProgram(setExitCode: (code: number) => void): Promise<Command> {
  const program = new Command('dedup-lab')
    .description('Where does deduplication happen — in the database, in the storage under it, or nowhere?')
    .version(TOOL_VERSION)
    .option('--config <file>', 'YAML or JSON config file')
    .option('--verbose', 'more log lines')
    .option('--quiet', 'only errors and results')
    .showHelpAfterError(false)
    .exitOverride();
  program.hook('preAction', (thisCommand) => {
    const options = thisCommand.optsWithGlobals();
    setVerbosity(options.quiet ? 'quiet' : options.verbose ? 'verbose' : 'normal');
  });
  for (const load of COMMAND_MODULES) {
    const { command } = await load();
    const sub = command.register(program);
    sub.exitOverride();
    sub.action(async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      setExitCode(await command.run(cmd.processedArgs, cmd.optsWithGlobals()));
    });
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  try {
    const program = await buildProgram((code) => {
      exitCode = code;
    });
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; everything else is a usage error.
      if (error.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    if (error instanceof UsageError) {
      log.error(errorMessage(error));
      return EXIT.usage;
    }
    // e.g. a URL source that cannot be downloaded and has no cached copy (SPEC §2: exit 3).
    if (error instanceof Error && (error as { exitCode?: unknown }).exitCode === EXIT.unreachable) {
      log.error(errorMessage(error));
      return EXIT.unreachable;
    }
    log.error(errorMessage(error));
    if (process.env.DEDUP_LAB_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return EXIT.cellsFailed;
  }
}
