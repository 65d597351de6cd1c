import type { Command } from 'commander';

/** One subcommand: declares its flags on the program, then runs and returns an exit code. */
export interface CommandModule {
  register(program: Command): Command;
  /** `args` are the positional arguments, `options` include the global ones (config, verbose, quiet). */
  run(args: unknown[], options: Record<string, unknown>): Promise<number>;
}
