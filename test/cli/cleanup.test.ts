/** `cleanup`: drops the lab namespace of the chosen systems and nothing else. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../experiment/helpers.js';

it('cleanup drops the lab of the chosen system only; a file beside it (canary) is untouched', async () => {
  const dir = tempDir('cleanup');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ systems: [{ id: 'sqlite', instance: 'one', options: { dataDir: join(dir, 'lab1') } }, { id: 'sqlite', instance: 'two', options: { dataDir: join(dir, 'lab2') } }] }));
  const run = await runCli(['run', '--config', config, '--keep-lab', '--payload-types', 'random_binary', '--grades', 'U0', '--files', '5', '--min-size', '4KiB', '--max-size', '8KiB', '--data-dir', join(dir, 'data'), '--results-dir', join(dir, 'results')], { cwd: dir });
  assert.equal(run.code, 0, run.stderr);
  assert.ok(existsSync(join(dir, 'lab1', 'dedup_lab.sqlite')));
  assert.ok(existsSync(join(dir, 'lab2', 'dedup_lab.sqlite')));
  const canary = join(dir, 'lab1', 'canary.sqlite');
  writeFileSync(canary, 'outside the lab namespace');

  const cleanup = await runCli(['cleanup', '--config', config, '--systems', 'one'], { cwd: dir });
  assert.equal(cleanup.code, 0, cleanup.stderr);
  assert.match(cleanup.stdout, /ok {4}one: lab namespace dedup_lab dropped/);
  assert.ok(!existsSync(join(dir, 'lab1', 'dedup_lab.sqlite')), 'lab of the chosen system dropped');
  assert.ok(existsSync(join(dir, 'lab2', 'dedup_lab.sqlite')), 'the other system is untouched');
  assert.equal(readFileSync(canary, 'utf8'), 'outside the lab namespace');
  assert.ok(existsSync(join(dir, 'results', 'results.jsonl')), 'results are not touched');
});

it('cleanup with an unknown system is a usage error naming the valid ones', async () => {
  const dir = tempDir('cleanup-bad');
  const result = await runCli(['cleanup', '--systems', 'mongo'], { cwd: dir });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown system "mongo"; valid: /);
});
