/**
 * Issue 14 #1 (SPEC §13): every bad input is refused before anything is written — exit 2, ONE
 * stderr line naming the bad value (and the valid ones where there is a list), no stack trace, and
 * the working dir, the data dir and the results dir exactly as they were. No server is reached:
 * every row fails in validation (server systems' options are checked before any connection).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runCli, tempDir } from '../experiment/helpers.js';

interface Row {
  name: string;
  /** Arguments; `@` is replaced by the row's working dir. */
  args: string[];
  /** What the one stderr line must say (the bad value, and the valid ones where there are some). */
  says: RegExp;
  /** A config file written to @/config.json before the command. */
  config?: unknown;
}

const SYNTH = ['--payload-types', 'random_binary', '--grades', 'U0', '--files', '4', '--data-dir', '@/data'];
const RUN = ['run', ...SYNTH, '--results-dir', '@/results'];
const sqliteConfig = (extra: Record<string, unknown> = {}, options: Record<string, unknown> = {}) => ({ systems: [{ id: 'sqlite', options: { dataDir: '@/lab', ...options }, ...extra }] });
const serverConfig = (id: string, options: Record<string, unknown>) => ({ systems: [{ id, options }] });
const withConfig = (...args: string[]) => ['--config', '@/config.json', ...args];

const ROWS: Row[] = [
  // generate
  { name: 'generate: unknown payload type', args: ['generate', '--payload-types', 'nope', '--data-dir', '@/data'], says: /"nope".*valid: .*random_binary/ },
  { name: 'generate: grade out of range', args: ['generate', '--grades', 'U100', '--data-dir', '@/data'], says: /U100.*U0/ },
  { name: 'generate: grade not a grade', args: ['generate', '--grades', 'X5', '--data-dir', '@/data'], says: /X5/ },
  { name: 'generate: zero files', args: ['generate', ...SYNTH.slice(0, 4), '--files', '0', '--data-dir', '@/data'], says: /files "0".*valid: an integer ≥ 1/ },
  { name: 'generate: files not a number', args: ['generate', '--files', 'abc', '--data-dir', '@/data'], says: /files "abc"/ },
  { name: 'generate: files in exponent form', args: ['generate', '--files', '1e3', '--data-dir', '@/data'], says: /files "1e3"/ },
  { name: 'generate: negative seed', args: ['generate', '--seed', '-1', '--data-dir', '@/data'], says: /seed "-1"/ },
  { name: 'generate: bad size unit', args: ['generate', '--min-size', '5XB', '--data-dir', '@/data'], says: /5XB/ },
  { name: 'generate: size not a size', args: ['generate', '--max-size', 'foo', '--data-dir', '@/data'], says: /foo/ },
  { name: 'generate: min above max', args: ['generate', '--min-size', '2MiB', '--max-size', '1MiB', '--data-dir', '@/data'], says: /min size 2097152 is larger than max size 1048576/ },
  { name: 'generate: unknown dup distribution', args: ['generate', '--dup-distribution', 'normal', '--data-dir', '@/data'], says: /"normal"; valid: uniform, zipf/ },
  { name: 'generate: source path that does not exist (checked before any set is written)', args: ['generate', '--payload-types', 'random_binary,gutenberg_text', '--grades', 'U0', '--source', 'gutenberg_text=/a/path/that/does/not/exist', '--data-dir', '@/data'], says: /\/a\/path\/that\/does\/not\/exist" does not exist/ },
  { name: 'generate: source without =', args: ['generate', '--source', 'justtext', '--data-dir', '@/data'], says: /--source "justtext"; valid: TYPE=PATH or TYPE=URL/ },
  { name: 'generate: source for a synthetic type', args: ['generate', '--source', 'random_binary=@', '--data-dir', '@/data'], says: /source type "random_binary"/ },
  { name: 'generate: source type with bad characters', args: ['generate', '--source', 'Bad-Type=@', '--data-dir', '@/data'], says: /source type "Bad-Type"/ },
  { name: 'generate: source URL with a bad sha256 pin', args: ['generate', '--payload-types', 'gutenberg_text', '--source', 'gutenberg_text=https://example.org/books.txt#sha256=zz', '--data-dir', '@/data'], says: /sha256/ },
  { name: 'generate: real-world type without a source', args: ['generate', '--payload-types', 'gutenberg_text', '--data-dir', '@/data'], says: /gutenberg_text needs a source/ },
  { name: 'generate: empty data dir', args: ['generate', ...SYNTH.slice(0, 6), '--data-dir', ''], says: /data dir ""/ },
  { name: 'generate: unknown flag', args: ['generate', '--bogus'], says: /--bogus/ },
  // estimate
  { name: 'estimate: dir that does not exist', args: ['estimate', '@/nowhere'], says: /nowhere/ },
  // run: flags
  { name: 'run: unknown system', args: [...RUN, '--systems', 'nosuch'], says: /"nosuch".*valid: .*postgresql/ },
  { name: 'run: unknown stage', args: [...RUN, '--systems', 'sqlite', '--stages', 'nope'], says: /"nope".*valid: .*bulk_insert/ },
  { name: 'run: unknown mode', args: [...RUN, '--systems', 'sqlite', '--mode', 'sideways'], says: /"sideways".*valid: .*blob/ },
  { name: 'run: zero runs', args: [...RUN, '--systems', 'sqlite', '--runs', '0'], says: /runs "0"/ },
  { name: 'run: negative max retries', args: [...RUN, '--systems', 'sqlite', '--max-retries', '-1'], says: /max-retries "-1"/ },
  { name: 'run: trace interval too short', args: [...RUN, '--systems', 'sqlite', '--trace-interval', '50'], says: /--trace-interval "50"; valid: an integer ≥ 100/ },
  { name: 'run: unknown variant', args: [...RUN, '--systems', 'sqlite', '--variants', 'sqlite:nope'], says: /nope/ },
  { name: 'run: results dir is a regular file', args: [...RUN.slice(0, -1), '@/a-file', '--systems', 'sqlite'], says: /--results-dir ".*a-file": it exists and is not a folder/ },
  { name: 'run: results dir under a regular file', args: [...RUN.slice(0, -1), '@/a-file/sub', '--systems', 'sqlite'], says: /a-file" is not a folder/ },
  { name: 'run: --repeat names no chosen system', args: [...RUN, '--systems', 'sqlite', '--repeat', 'nosuch'], says: /"nosuch"; valid: sqlite/ },
  { name: 'run: --fresh with --repeat', args: [...RUN, '--systems', 'sqlite', '--fresh', '--repeat', 'sqlite'], says: /--fresh and --repeat exclude each other/ },
  // run: config file
  { name: 'config: probes.primary names a probe the system has not', args: withConfig(...RUN), config: sqliteConfig({ probes: { primary: 'nope' } }), says: /probes\.primary "nope" for system sqlite; valid: internal, dbstat, lab_fs, log_fs, fs, storage/ },
  { name: 'config: unknown system option', args: withConfig(...RUN), config: sqliteConfig({}, { bogus: 1 }), says: /sqlite options: .*bogus/ },
  { name: 'config: PostgreSQL port out of range', args: withConfig(...RUN), config: serverConfig('postgresql', { port: 70000 }), says: /postgresql options: .*port/ },
  { name: 'config: MariaDB option of the wrong type', args: withConfig(...RUN), config: serverConfig('mariadb', { port: 'abc' }), says: /mariadb options: .*port/ },
  { name: 'config: Redis unknown option', args: withConfig(...RUN), config: serverConfig('redis', { tls: 'maybe' }), says: /redis options: .*tls/ },
  { name: 'config: negative operation timeout', args: withConfig(...RUN), config: sqliteConfig({}, { operationTimeoutSeconds: -1 }), says: /sqlite options: .*operationTimeoutSeconds/ },
  { name: 'config: maintenance timeout not a number', args: withConfig(...RUN), config: serverConfig('kafka', { maintenanceTimeoutSeconds: 'long' }), says: /kafka options: .*maintenanceTimeoutSeconds/ },
  { name: 'config: injection-shaped lab name', args: withConfig(...RUN), config: { labName: 'x; DROP SCHEMA public', ...sqliteConfig() }, says: /labName/ },
  { name: 'config: one instance twice', args: withConfig(...RUN), config: { systems: [{ id: 'sqlite', options: { dataDir: '@/a' } }, { id: 'sqlite', options: { dataDir: '@/b' } }] }, says: /instance "sqlite" appears twice/ },
  { name: 'config: unknown system id', args: withConfig(...RUN), config: { systems: [{ id: 'oracle' }] }, says: /oracle/ },
  { name: 'config: unknown top-level key', args: withConfig(...RUN), config: { colour: 'blue' }, says: /colour/ },
  { name: 'config: bad grade in dataset.grades', args: withConfig('run', '--data-dir', '@/data', '--results-dir', '@/results'), config: { dataset: { grades: ['U200'] } }, says: /U200|grades/ },
  { name: 'config: payload type without a source', args: withConfig('run', '--data-dir', '@/data', '--results-dir', '@/results'), config: { dataset: { payloadTypes: ['gutenberg_text'] } }, says: /gutenberg_text needs a source/ },
  { name: 'config file that does not exist', args: ['--config', '@/missing.yaml', ...RUN], says: /missing\.yaml/ },
  { name: 'config file that is not YAML/JSON', args: withConfig(...RUN), config: '{ not: [valid', says: /config\.json/ },
  // report, check, cleanup, cascade
  { name: 'report: dir that does not exist', args: ['report', '@/nowhere'], says: /nowhere" does not exist/ },
  { name: 'report: dir without results.jsonl', args: ['report', '@/data'], says: /no results\.jsonl in/ },
  { name: 'check: unknown system', args: ['check', ...SYNTH, '--systems', 'nosuch'], says: /"nosuch".*valid:/ },
  { name: 'check: unknown stage', args: ['check', ...SYNTH, '--systems', 'sqlite', '--stages', 'nope'], says: /"nope".*valid:/ },
  { name: 'check: bad system option in the config', args: withConfig('check', ...SYNTH), config: serverConfig('clickhouse', { url: 42 }), says: /clickhouse options: .*url/ },
  { name: 'cleanup: unknown system', args: ['cleanup', '--systems', 'nosuch'], says: /"nosuch".*valid:/ },
  { name: 'cleanup: bad system option in the config', args: withConfig('cleanup'), config: serverConfig('nats', { servers: 7 }), says: /nats options: .*servers/ },
  { name: 'cascade: config file that does not exist', args: ['--config', '@/missing.yaml', 'cascade'], says: /missing\.yaml|cascade/ },
];

/** Every path under `dir` with its size and mtime: any write shows as a difference. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const info = statSync(full);
      out.push(`${relative(dir, full)} ${info.isDirectory() ? 'dir' : info.size} ${info.mtimeMs}`);
      if (info.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

const root = tempDir('bad-input');
after(() => rmSync(root, { recursive: true, force: true }));

/** A working dir with a data dir and a results dir that already hold something (resume case). */
function workDir(index: number, row: Row): string {
  const dir = join(root, String(index));
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'results'), { recursive: true });
  writeFileSync(join(dir, 'results', 'results.jsonl'), '');
  writeFileSync(join(dir, 'a-file'), 'not a folder\n');
  if (row.config !== undefined) {
    const text = typeof row.config === 'string' ? row.config : JSON.stringify(row.config).replaceAll('@', dir);
    writeFileSync(join(dir, 'config.json'), text);
  }
  return dir;
}

describe('bad input: exit 2, one line naming the value, nothing written', { concurrency: 6 }, () => {
  it(`has at least 40 distinct rows over every command and the config file (${ROWS.length})`, () => {
    assert.ok(ROWS.length >= 40);
    assert.equal(new Set(ROWS.map((row) => row.name)).size, ROWS.length);
    for (const command of ['generate', 'estimate', 'run', 'report', 'check', 'cleanup', 'cascade', 'config']) {
      assert.ok(ROWS.some((row) => row.name.startsWith(command)), command);
    }
  });

  ROWS.forEach((row, index) => {
    it(row.name, async () => {
      const dir = workDir(index, row);
      const before = snapshot(dir);
      const result = await runCli(row.args.map((arg) => arg.replaceAll('@', dir)), { cwd: dir });
      const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
      assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
      assert.equal(lines.length, 1, `one stderr line, got: ${result.stderr}`);
      assert.match(lines[0] ?? '', row.says);
      assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
      assert.equal(result.stdout, '', 'nothing on stdout');
      assert.deepEqual(snapshot(dir), before, 'nothing written in the working, data or results dir');
    });
  });
});
