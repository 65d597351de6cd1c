/** The tool's cache folder, shared by URL sources (dataset/download.ts) and PGlite templates. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$XDG_CACHE_HOME/dedup-lab`, else `~/.cache/dedup-lab`. */
export function dedupLabCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'dedup-lab');
}
