/**
 * Bulk loading of dedup-lab vs each SQL server's own client on the same files, into the same lab
 * table, in one run (SPEC §10, issue 4 #5). Data: 200 random files × 256 KiB (≈52 MB), written to a
 * temporary folder.
 *
 * - dedup-lab: the adapter's `bulkInsert` (what the runner's `bulk_insert` stage calls), fed one
 *   file at a time read from disk, exactly as the runner feeds it.
 * - native: the server's own client loading a ready-made input file holding the same rows, encoded
 *   by the same encoders the adapters use (building the file is not timed):
 *   - postgresql: `psql -c "\copy <lab>.blobs (…) FROM '<file>' WITH (FORMAT binary)"` (binary COPY);
 *   - mariadb: `mariadb --local-infile=1 -e "LOAD DATA LOCAL INFILE '<file>' INTO TABLE …"`
 *     (tab-separated, backslash-escaped, CHARACTER SET binary);
 *   - clickhouse: `clickhouse-client --query "INSERT INTO <lab>.blobs FORMAT RowBinary" < <file>`.
 *   The native time is the tool's wall time minus its own start-up and connection time (the best of
 *   three runs of the same tool with a trivial statement), so the reference is only the loading.
 *
 * Each side loads three times alternately into a freshly reset table; the best run of each counts.
 * Every load is checked: the table holds exactly the 200 rows afterwards. Passwords reach the
 * tools through their environment (PGPASSWORD, MYSQL_PWD) or a 0600 config file (clickhouse-client),
 * never on a command line.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { BenchResult } from './run.js';
import { loadSystem } from '../src/systems/registry.js';
import { loadDataBlobLine } from '../src/systems/mariadb.js';
import { rowBinaryBlobRow } from '../src/systems/clickhouse.js';
import { PG_COPY_BINARY_HEADER, PG_COPY_BINARY_TRAILER, pgCopyBinaryBlobRow } from '../src/systems/shared/pgCommon.js';
import type { CellContext, LabFile, SystemAdapter } from '../src/systems/types.js';

const LAB = 'dedup_bench_sql';
const FILES = 200;
const SIZE = 256 * 1024;
const RUNS = 3;

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: eval "$(bash scripts/services.sh env)" first`);
  return value;
}

function cell(variant: string): CellContext {
  return { cellId: `bench.sql.${variant}`, objectTag: 'benchsql', variant, mode: 'blob', payloadType: 'random_binary', grade: 'U0', signal: new AbortController().signal };
}

interface DataSet {
  dir: string;
  files: LabFile[];
  bytes: number;
}

async function makeDataSet(dir: string): Promise<DataSet> {
  const files: LabFile[] = [];
  for (let id = 0; id < FILES; id++) {
    const content = randomBytes(SIZE);
    const name = `${String(id).padStart(5, '0')}.bin`;
    await writeFile(join(dir, name), content);
    // The metadata is kept; the content is read back from disk for every load (as the runner does).
    files.push({ id, name, size: SIZE, sha256: createHash('sha256').update(content).digest('hex'), payloadType: 'random_binary', content: Buffer.alloc(0) });
  }
  return { dir, files, bytes: FILES * SIZE };
}

async function* fromDisk(data: DataSet): AsyncIterable<LabFile> {
  for (const file of data.files) yield { ...file, content: await readFile(join(data.dir, file.name)) };
}

/** Write the native tool's input file from the same rows (the adapters' own encoders). */
async function writeInput(path: string, data: DataSet, encode: (file: LabFile) => Buffer[], head: Buffer[] = [], tail: Buffer[] = []): Promise<void> {
  const parts: Buffer[] = [...head];
  for await (const file of fromDisk(data)) parts.push(...encode(file));
  parts.push(...tail);
  await writeFile(path, Buffer.concat(parts));
}

/** Run a client; resolves with its wall time in ms; a non-zero exit is an error (with its output). */
function timeTool(command: string, args: string[], toolEnv: NodeJS.ProcessEnv, stdinFile?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env: { ...process.env, ...toolEnv }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    if (stdinFile) createReadStream(stdinFile).pipe(child.stdin);
    else child.stdin.end();
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${command} exited ${code}: ${output.slice(-500)}`))));
  });
}

interface Side {
  system: string;
  variant: string;
  options: Record<string, unknown>;
  /** The native client's name for the table. */
  tool: string;
  prepare(dir: string, data: DataSet): Promise<void>;
  /** One native load (wall ms). */
  load(): Promise<number>;
  /** The same client with a trivial statement: its start-up and connection cost (wall ms). */
  noop(): Promise<number>;
}

async function compare(side: Side, data: DataSet, dir: string): Promise<BenchResult> {
  const definition = await loadSystem(side.system);
  const adapter: SystemAdapter = definition.create(side.system, definition.parseOptions(side.options), LAB);
  await adapter.connect();
  try {
    const c = cell(side.variant);
    await side.prepare(dir, data);
    let ours = Infinity;
    let native = Infinity;
    let startup = Infinity;
    for (let run = 0; run < RUNS; run++) {
      await adapter.resetLab(c);
      const started = performance.now();
      const outcome = await adapter.bulkInsert(fromDisk(data), c);
      ours = Math.min(ours, performance.now() - started);
      if (outcome.failed.length > 0 || outcome.acknowledged.length !== FILES) throw new Error(`${side.system}: dedup-lab bulk failed: ${outcome.failed[0]?.error}`);
      if ((await adapter.countStored(c)) !== FILES) throw new Error(`${side.system}: dedup-lab bulk did not store ${FILES} rows`);

      await adapter.resetLab(c);
      native = Math.min(native, await side.load());
      if ((await adapter.countStored(c)) !== FILES) throw new Error(`${side.system}: ${side.tool} did not store ${FILES} rows`);
      startup = Math.min(startup, await side.noop());
    }
    await adapter.dropLab();
    const mbps = (ms: number) => data.bytes / 1e6 / (ms / 1000);
    const loading = Math.max(native - startup, 1);
    return {
      name: `${side.system} bulk ${FILES}×256 KiB random`,
      value: mbps(ours),
      unit: 'MB/s',
      reference: { name: side.tool, value: mbps(loading) },
      note: `${side.tool} wall ${native.toFixed(0)} ms incl. ${startup.toFixed(0)} ms start-up (not counted); dedup-lab ${ours.toFixed(0)} ms; raw ratio ${(native / ours).toFixed(2)}`,
    };
  } finally {
    await adapter.close();
  }
}

function postgresqlSide(): Side {
  const toolEnv = { PGHOST: env('DEDUP_LAB_PG_URL_HOST'), PGPORT: env('DEDUP_LAB_PG_PORT'), PGUSER: env('DEDUP_LAB_PG_USER'), PGPASSWORD: env('DEDUP_LAB_PG_PASSWORD'), PGDATABASE: env('DEDUP_LAB_PG_DATABASE') };
  let input = '';
  return {
    system: 'postgresql',
    variant: 'default',
    options: { host: toolEnv.PGHOST, port: toolEnv.PGPORT, user: toolEnv.PGUSER, password: toolEnv.PGPASSWORD, database: toolEnv.PGDATABASE },
    tool: 'psql \\copy (FORMAT binary)',
    async prepare(dir, data) {
      input = join(dir, 'load.pgcopy');
      await writeInput(input, data, pgCopyBinaryBlobRow, [PG_COPY_BINARY_HEADER], [PG_COPY_BINARY_TRAILER]);
    },
    load: () => timeTool('psql', ['-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${LAB}.blobs (id, name, sha256, size, content) FROM '${input}' WITH (FORMAT binary)`], toolEnv),
    noop: () => timeTool('psql', ['-v', 'ON_ERROR_STOP=1', '-c', 'SELECT 1'], toolEnv),
  };
}

function mariadbSide(): Side {
  const port = env('DEDUP_LAB_MARIADB_PORT');
  const user = env('DEDUP_LAB_MARIADB_USER');
  const password = env('DEDUP_LAB_MARIADB_PASSWORD');
  const base = ['--protocol=TCP', '-h', '127.0.0.1', '-P', port, '-u', user];
  let input = '';
  return {
    system: 'mariadb',
    variant: 'default',
    options: { host: '127.0.0.1', port, user, password },
    tool: 'mariadb LOAD DATA LOCAL INFILE',
    async prepare(dir, data) {
      input = join(dir, 'load.tsv');
      await writeInput(input, data, loadDataBlobLine);
    },
    load: () =>
      timeTool(
        'mariadb',
        [
          ...base,
          '--local-infile=1',
          '-e',
          // The same statement the adapter sends, in one transaction like the adapter's.
          `SET autocommit=0; LOAD DATA LOCAL INFILE '${input}' INTO TABLE ${LAB}.blobs CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (id, name, sha256, size, content); COMMIT;`,
        ],
        { MYSQL_PWD: password },
      ),
    noop: () => timeTool('mariadb', [...base, '-e', 'SELECT 1'], { MYSQL_PWD: password }),
  };
}

function clickhouseSide(): Side {
  const user = env('DEDUP_LAB_CLICKHOUSE_USER');
  const password = env('DEDUP_LAB_CLICKHOUSE_PASSWORD');
  let input = '';
  let config = '';
  const base = () => ['--config-file', config, '--host', '127.0.0.1', '--port', env('DEDUP_LAB_CLICKHOUSE_TCP_PORT')];
  return {
    system: 'clickhouse',
    variant: 'mergetree',
    options: { url: env('DEDUP_LAB_CLICKHOUSE_URL'), user, password },
    tool: 'clickhouse-client RowBinary',
    async prepare(dir, data) {
      input = join(dir, 'load.rowbinary');
      config = join(dir, 'clickhouse-client.xml');
      const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      await writeFile(config, `<config><user>${xml(user)}</user><password>${xml(password)}</password></config>\n`, { mode: 0o600 });
      await writeInput(input, data, rowBinaryBlobRow);
    },
    load: () => timeTool('clickhouse-client', [...base(), '--query', `INSERT INTO ${LAB}.blobs FORMAT RowBinary`], {}, input),
    noop: () => timeTool('clickhouse-client', [...base(), '--query', 'SELECT 1'], {}),
  };
}

export async function bench(): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'dedup-bench-sql-'));
  try {
    const data = await makeDataSet(dir);
    const results: BenchResult[] = [];
    for (const side of [postgresqlSide(), mariadbSide(), clickhouseSide()]) {
      const result = await compare(side, data, dir);
      results.push({ ...result, target: result.reference ? 0.9 * result.reference.value : undefined });
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
