/**
 * Lab-scoped storage probes (SPEC §6.2): blocks allocated by the lab's own files only, where the
 * system can name them, beside the whole-data-directory `fs` probe (which also counts WAL, other
 * databases and temporary files and makes small deltas noisy). `log_fs` reports the write-ahead /
 * redo log's share separately; it is never the headline.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsProbe } from '../../measure/probes/fs.js';
import type { Probe } from '../types.js';
import { assertLabSchema, type PgExecute } from './pgCommon.js';

/** Local stat calls are cheap; same timings as the runner's `fs` probe. */
const FS_TIMINGS = { settleTimeoutMs: 30_000, pollIntervalMs: 20 };

export function labFilesProbe(paths: () => Promise<readonly string[]> | readonly string[]): Probe {
  return fsProbe({ name: 'lab_fs', scope: 'lab', paths: async () => paths(), ...FS_TIMINGS });
}

export function logFilesProbe(paths: () => Promise<readonly string[]> | readonly string[]): Probe {
  return fsProbe({ name: 'log_fs', scope: 'log', paths: async () => paths(), ...FS_TIMINGS });
}

/** Entries of `dir` whose name passes `keep`, as full paths; a missing directory holds none. */
export function entriesOf(dir: string, keep: (name: string) => boolean): string[] {
  try {
    return readdirSync(dir)
      .filter(keep)
      .map((name) => join(dir, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Escape a name for use inside a RegExp. */
export function regexpEscape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Every fork and segment file of a PostgreSQL relation file path: `16384`, `16384.1`, `16384_fsm`,
 * `16384_vm`, `16384_init` (and their segments).
 */
export function isRelationFile(relfilenode: string, name: string): boolean {
  return new RegExp(`^${regexpEscape(relfilenode)}(_(fsm|vm|init))?(\\.[0-9]+)?$`).test(name);
}

/** Lab tables, their TOAST tables and the TOAST indexes, and the lab's own indexes. */
export const PG_LAB_RELATION_PATHS_SQL = `
WITH lab AS (
  SELECT c.oid, c.reltoastrelid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relkind IN ('r', 'i', 'm', 't')
), rels AS (
  SELECT oid FROM lab
  UNION SELECT reltoastrelid FROM lab WHERE reltoastrelid <> 0
  UNION SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT reltoastrelid FROM lab WHERE reltoastrelid <> 0)
)
SELECT pg_relation_filepath(oid) AS path FROM rels WHERE pg_relation_filepath(oid) IS NOT NULL`;

/** The data files (every fork and segment) of the lab schema's relations under `dataDir`. */
export async function pgLabRelationFiles(execute: PgExecute, schema: string, dataDir: string): Promise<string[]> {
  const result = await execute(PG_LAB_RELATION_PATHS_SQL, [assertLabSchema(schema)]);
  const files: string[] = [];
  for (const row of result.rows) {
    const relative = String(row.path);
    const dir = join(dataDir, dirname(relative));
    const node = basename(relative);
    files.push(...entriesOf(dir, (name) => isRelationFile(node, name)));
  }
  return files;
}

/**
 * A live Kafka partition directory of `topic`: `<topic>-<n>`. Directories of a deleted topic
 * (`<topic>-<n>.<id>-delete`, left by the lab reset until the broker removes them) are not the
 * cell's data: counting them would make the probe look stuck after every reset.
 */
export function isPartitionDir(topic: string, name: string): boolean {
  return new RegExp(`^${regexpEscape(topic)}-[0-9]+$`).test(name);
}
