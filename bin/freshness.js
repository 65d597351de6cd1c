// Whether dist/ was built from the src/ that is on disk now. Plain JavaScript, no dependencies:
// the CLI calls it before anything else is loaded, so it must cost well under a millisecond per file.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Newest mtime of any file or directory under `dir` (a directory's mtime changes when an entry is added, removed or renamed). */
export function newestMtimeMs(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * true when dist/ exists and (in a checkout) nothing under src/ changed after it was built.
 * An installed package has no src/: its dist/ is what it ships.
 */
export function distIsCurrent(root) {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(join(root, 'dist', '.build.json'), 'utf8')).sourceMtimeMs;
  } catch {
    return false;
  }
  let current;
  try {
    current = newestMtimeMs(join(root, 'src'));
  } catch {
    return true;
  }
  return typeof recorded === 'number' && current <= recorded;
}

/** The top-level help text, written into dist/ by the build (scripts/build.js). */
export const HELP_FILE = 'help.txt';

/**
 * The answer to `dedup-lab --version` or `dedup-lab --help` without loading the program (null for
 * any other arguments): the version from package.json, as commander prints it, and the help text
 * the current build printed. Only called when distIsCurrent.
 */
export function quickAnswer(root, argv) {
  if (argv.length !== 1) return null;
  if (argv[0] === '--version' || argv[0] === '-V') return `${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`;
  if (argv[0] === '--help' || argv[0] === '-h') {
    try {
      return readFileSync(join(root, 'dist', HELP_FILE), 'utf8');
    } catch {
      return null;
    }
  }
  return null;
}
