/**
 * `run` through the real CLI: dry run and bad input write nothing, exit codes of SPEC §2,
 * SIGINT stops cleanly (exit 130) and the run resumes to exactly the full set of cells.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoints, readRecords } from '../../src/experiment/results.js';
import { runCli, stageKeys, tempDir } from '../experiment/helpers.js';

const SMALL = ['--payload-types', 'random_binary', '--files', '10', '--min-size', '4KiB', '--max-size', '16KiB'];

describe('dedup-lab run (CLI)', () => {
  const root = tempDir('cli-run');

  it('--dry-run prints the plan and writes nothing anywhere', async () => {
    const result = await runCli(['run', '--systems', 'sqlite', ...SMALL, '--grades', 'U0,U90', '--dry-run', '--results-dir', join(root, 'dry-results'), '--data-dir', join(root, 'dry-data')], { cwd: root });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /sqlite\.default\.blob\.random_binary\.U0\.r1/);
    assert.match(result.stdout, /random_binary\/U90: 10 files.*missing — will be generated/);
    assert.match(result.stdout, /cells \(2\)/);
    assert.deepEqual(readdirSync(root), [], 'no results dir, no data dir, no lab dir');
  });

  for (const [flag, value, valid] of [
    ['--systems', 'mongo', /unknown system "mongo"; valid: .*sqlite/],
    ['--variants', 'lz4', /unknown variant "lz4"; valid: default, sqlite:default/],
    ['--stages', 'bulk', /unknown stage "bulk"; valid: bulk_insert, compaction, (.*, )?perfile_insert, perfile_delete, maintenance/],
    ['--mode', 'blobs', /unknown mode "blobs"; valid: blob, native, both/],
    ['--runs', '0', /invalid --runs "0"; valid: an integer ≥ 1/],
    ['--payload-types', 'foo', /unknown payload type "foo"; valid: /],
    ['--grades', 'U100', /U100/],
    ['--repeat', 'pglite', /unknown --repeat system "pglite"; valid: sqlite/],
  ] as const) {
    it(`${flag} ${value} is a usage error (exit 2, one line, nothing written)`, async () => {
      const dir = tempDir('cli-bad');
      const args = ['run', '--systems', 'sqlite', ...SMALL, '--results-dir', join(dir, 'r'), '--data-dir', join(dir, 'd')];
      const index = args.indexOf(flag);
      if (index >= 0) args[index + 1] = value;
      else args.push(flag, value);
      const result = await runCli(args, { cwd: dir });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, valid);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.deepEqual(readdirSync(dir), []);
    });
  }

  it('an injection-shaped lab name is refused before any I/O', async () => {
    const dir = tempDir('cli-lab');
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ labName: 'dedup_lab; DROP SCHEMA public', systems: [{ id: 'sqlite', options: { dataDir: join(dir, 'lab') } }] }));
    const result = await runCli(['run', '--config', config, ...SMALL, '--results-dir', join(dir, 'r'), '--data-dir', join(dir, 'd')], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /invalid lab name/);
    assert.deepEqual(readdirSync(dir), ['config.json']);
  });

  it('exit 3 when no configured system is reachable, exit 1 listing failed cells when some are', async () => {
    const dir = tempDir('cli-unreachable');
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'not a folder');
    const none = join(dir, 'none.json');
    writeFileSync(none, JSON.stringify({ systems: [{ id: 'sqlite', options: { dataDir: join(blocker, 'x') } }], run: { maxRetries: 0 } }));
    const unreachable = await runCli(['run', '--config', none, ...SMALL, '--grades', 'U0', '--results-dir', join(dir, 'r1'), '--data-dir', join(dir, 'd')], { cwd: dir });
    assert.equal(unreachable.code, 3, unreachable.stderr);
    assert.match(unreachable.stderr, /cell failed: sqlite\.default\.blob\.random_binary\.U0\.r1: cannot connect/);

    const some = join(dir, 'some.json');
    writeFileSync(some, JSON.stringify({ systems: [{ id: 'sqlite', instance: 'bad', options: { dataDir: join(blocker, 'x') } }, { id: 'sqlite', instance: 'good', options: { dataDir: join(dir, 'lab') } }], run: { maxRetries: 0 } }));
    const partial = await runCli(['run', '--config', some, ...SMALL, '--grades', 'U0', '--results-dir', join(dir, 'r2'), '--data-dir', join(dir, 'd')], { cwd: dir });
    assert.equal(partial.code, 1, partial.stderr);
    assert.match(partial.stderr, /cell failed: sqlite@bad\.default\.blob\.random_binary\.U0\.r1/);
    assert.match(partial.stdout, /good/);
    assert.equal(readRecords(join(dir, 'r2')).length, 5);
  });

  it('SIGINT stops after the current operation with exit 130, checkpoints no partial cell, and a rerun completes the rest', async () => {
    const dir = tempDir('cli-sigint');
    const args = ['run', '--systems', 'sqlite', ...SMALL, '--grades', 'U0,U10,U20,U30,U40,U50', '--results-dir', join(dir, 'r'), '--data-dir', join(dir, 'd')];
    let sent = false;
    const interrupted = await runCli(args, {
      cwd: dir,
      onStderr: (text, child) => {
        // Interrupt in the middle of the second cell.
        if (!sent && /random_binary\.U10\.r1 compaction/.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.ok(sent, interrupted.stderr);
    assert.equal(interrupted.code, 130, interrupted.stderr);
    assert.match(interrupted.stderr, /SIGINT: stopping after the current operation/);
    const checkpoints = readCheckpoints(join(dir, 'r'));
    assert.ok(checkpoints.has('sqlite.default.blob.random_binary.U0.r1'));
    assert.ok(!checkpoints.has('sqlite.default.blob.random_binary.U10.r1'), 'the interrupted cell is not checkpointed');
    assert.ok([...checkpoints.values()].every((checkpoint) => checkpoint.status === 'complete'));

    const dryRun = await runCli([...args, '--dry-run'], { cwd: dir });
    assert.match(dryRun.stdout, /cells \(6, 1 already complete\)/);
    assert.match(dryRun.stdout, /random_binary\.U0\.r1 \(complete — skipped\)/);
    assert.match(dryRun.stdout, /\(exists: resumes\)/);

    const resumed = await runCli(args, { cwd: dir });
    assert.equal(resumed.code, 0, resumed.stderr);
    const records = readRecords(join(dir, 'r'));
    assert.equal(records.length, 6 * 5);
    assert.equal(new Set(stageKeys(records)).size, 30, 'no duplicate lines');
    assert.ok(existsSync(join(dir, 'r', 'results.csv')));
  });
});
