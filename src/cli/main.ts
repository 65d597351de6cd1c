/**
 * CLI entry: builds the commander program from one module per subcommand (src/cli/commands)
 * and maps errors to the exit codes of SPEC §2.
 */
import { Command, CommanderError } from 'commander';
import { errorMessage, EXIT, UsageError } from '../core/errors.js';
import { log, setVerbosity } from '../core/log.js';
import { TOOL_VERSION } from '../version.js';
import type { CommandModule } from './commands/types.js';

/** One module per subcommand, by the name it registers (a test checks they agree). */
export const COMMAND_MODULES: Readonly<Record<string, () => Promise<{ command: CommandModule }>>> = {
  generate: () => import('./commands/generate.js'),
  estimate: () => import('./commands/estimate.js'),
  run: () => import('./commands/run.js'),
  report: () => import('./commands/report.js'),
  check: () => import('./commands/check.js'),
  cleanup: () => import('./commands/cleanup.js'),
  demo: () => import('./commands/demo.js'),
  cascade: () => import('./commands/cascade.js'),
  k8s: () => import('./commands/k8s.js'),
};

const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--config']);

/**
 * The subcommand `argv` invokes, when it names a known one: the first word that is neither a
 * global option nor its value. Only that module is loaded then — every module loaded costs each
 * start ≈ 0.4–0.7 s of CPU and ≈ 10–25 MiB (measured): a run's floor, and the test suite's many
 * CLI spawns. Anything else (no command, `help`, a typo) loads all, so help and commander's
 * "unknown command" suggestions stay complete.
 */
export function invokedCommand(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(word)) i++;
    else if (!word.startsWith('-')) return Object.hasOwn(COMMAND_MODULES, word) ? word : undefined;
  }
  return undefined;
}

export async function buildProgram(setExitCode: (code: number) => void, only?: string): Promise<Command> {
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
  const names = only === undefined ? Object.keys(COMMAND_MODULES) : [only];
  for (const name of names) {
    const { command } = await (COMMAND_MODULES[name] as () => Promise<{ command: CommandModule }>)();
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
    }, invokedCommand(argv));
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
