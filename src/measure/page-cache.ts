/**
 * `--cache cold` for a local data dir (SPEC §4.1): the kernel's page cache is dropped (after a
 * `sync`, so dirty pages are written, not lost) when the tool runs as root; otherwise the record
 * says that it was kept. Drop-caches is global: it makes every local system cold, which is what
 * a cold read wants, and it never changes what is stored.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export const DROP_CACHES_PATH = '/proc/sys/vm/drop_caches';

/** What was done to the OS page cache, as one sentence for the record. */
export function dropOsPageCache(localDataPaths: readonly string[], uid: number | undefined = process.getuid?.()): string {
  if (localDataPaths.length === 0) return 'OS page cache: not touched (the data dir is not local)';
  if (uid !== 0) return 'OS page cache: kept (the tool does not run as root, so it cannot drop it)';
  try {
    execFileSync('sync');
    writeFileSync(DROP_CACHES_PATH, '1');
    return 'OS page cache: dropped (sync; echo 1 > /proc/sys/vm/drop_caches)';
  } catch (error) {
    return `OS page cache: kept (${DROP_CACHES_PATH} refused: ${error instanceof Error ? error.message : String(error)})`;
  }
}
