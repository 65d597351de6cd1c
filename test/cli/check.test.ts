/** `check`: reaches systems, creates and drops the lab namespace, prints the plan, changes nothing else. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../experiment/helpers.js';

it('check prints versions and the plan, leaves no lab behind, and generates no data', async () => {
  const dir = tempDir('check');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ systems: [{ id: 'sqlite', options: { dataDir: join(dir, 'lab') } }] }));
  const result = await runCli(['check', '--config', config, '--payload-types', 'random_binary', '--grades', 'U0', '--files', '5', '--data-dir', join(dir, 'data')], { cwd: dir });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /ok {4}sqlite: SQLite 3\.\d+\.\d+; lab namespace created and dropped/);
  assert.match(result.stdout, /sqlite\.default\.blob\.random_binary\.U0\.r1/);
  assert.ok(!existsSync(join(dir, 'data')), 'check generates nothing');
  assert.ok(!existsSync(join(dir, 'lab', 'dedup_lab.sqlite')), 'the lab database was dropped again');
});

it('check exits 3 when no system is reachable and 1 when only some are', async () => {
  const dir = tempDir('check-bad');
  const blocker = join(dir, 'blocker');
  writeFileSync(blocker, 'not a folder');
  const none = join(dir, 'none.json');
  writeFileSync(none, JSON.stringify({ systems: [{ id: 'sqlite', options: { dataDir: join(blocker, 'x') } }] }));
  const unreachable = await runCli(['check', '--config', none, '--payload-types', 'random_binary', '--data-dir', join(dir, 'data')], { cwd: dir });
  assert.equal(unreachable.code, 3, unreachable.stderr);
  assert.match(unreachable.stdout, /FAIL {2}sqlite:/);
  assert.match(unreachable.stderr, /no configured system is reachable/);

  const some = join(dir, 'some.json');
  writeFileSync(some, JSON.stringify({ systems: [{ id: 'sqlite', instance: 'bad', options: { dataDir: join(blocker, 'x') } }, { id: 'sqlite', instance: 'good', options: { dataDir: join(dir, 'lab') } }] }));
  const partial = await runCli(['check', '--config', some, '--payload-types', 'random_binary', '--data-dir', join(dir, 'data')], { cwd: dir });
  assert.equal(partial.code, 1, partial.stderr);
  assert.match(partial.stdout, /ok {4}good:/);
  assert.deepEqual(readdirSync(dir).sort(), ['blocker', 'lab', 'none.json', 'some.json'].filter((name) => name !== 'lab' || existsSync(join(dir, 'lab'))).sort());
});
