/**
 * The published package (issue 15): `npm pack` (which runs `prepare`, the build), install the
 * tarball into an empty folder as a user would, then `dedup-lab demo` from there works — compiled
 * JavaScript only, no tsx and no TypeScript sources at run time — and `--version` answers.
 * The tarball's dependencies come from the npm cache (better-sqlite3 13 ships its Node-API
 * binaries inside the package: nothing is compiled or downloaded).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });

test('npm pack, install the tarball into an empty folder, dedup-lab demo runs', { timeout: 900_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'dedup-lab-pack-'));
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work], REPO)) as { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path);
  assert.ok(files.includes('dist/cli/main.js') && files.includes('dist/help.txt'), 'the build is in the tarball');
  assert.ok(!files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), `no TypeScript sources: ${files.filter((f) => f.endsWith('.ts')).join(', ')}`);

  const app = join(work, 'app');
  npm(['init', '-y'], join(work)); // a package.json in work keeps npm from walking up
  execFileSync('mkdir', ['-p', app]);
  npm(['init', '-y'], app);
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed[0]!.filename)], app);
  assert.equal(existsSync(join(app, 'node_modules', 'tsx')), false, 'tsx is not a run-time dependency');

  const bin = join(app, 'node_modules', '.bin', 'dedup-lab');
  const expectedVersion = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(execFileSync(bin, ['--version'], { cwd: app, encoding: 'utf8' }).trim(), expectedVersion);

  const results = join(work, 'results');
  const demo = spawnSync(bin, ['demo', '--results-dir', results, '--data-dir', join(work, 'data')], { cwd: app, encoding: 'utf8', timeout: 300_000 });
  assert.equal(demo.status, 0, demo.stderr);
  assert.match(demo.stdout, /report:/);
  assert.ok(readdirSync(results).includes('report.html'));
  const lines = readFileSync(join(results, 'results.jsonl'), 'utf8').trim().split('\n');
  assert.ok(lines.length > 0 && lines.every((line) => (JSON.parse(line) as { error: unknown }).error === null), 'every stage succeeded');
});
