/** Plain log lines on stderr, scrubbed of secrets. Progress bars live in the commands that need them. */
import { scrub } from '../config/secrets.js';

export type Verbosity = 'quiet' | 'normal' | 'verbose';
let verbosity: Verbosity = 'normal';

export function setVerbosity(level: Verbosity): void {
  verbosity = level;
}

export function getVerbosity(): Verbosity {
  return verbosity;
}

export const log = {
  info(message: string): void {
    if (verbosity !== 'quiet') process.stderr.write(`${scrub(message)}\n`);
  },
  debug(message: string): void {
    if (verbosity === 'verbose') process.stderr.write(`${scrub(message)}\n`);
  },
  warn(message: string): void {
    process.stderr.write(`warning: ${scrub(message)}\n`);
  },
  error(message: string): void {
    process.stderr.write(`error: ${scrub(message)}\n`);
  },
};
