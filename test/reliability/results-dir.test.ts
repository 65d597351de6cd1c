/**
 * Issue 14 #4 and #5 (SPEC §13) with the embedded sqlite system (no server): a full disk under the
 * results dir (a small tmpfs, mounted by this test as root) ends the run with one error line and
 * keeps every earlier line whole, and a rerun with space resumes; a live run's lock refuses a
 * second run naming its pid, a dead run's lock is taken over.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoints, readRecords } from '../../src/experiment/results.js';
import { runCli, stageKeys, tempDir } from '../experiment/helpers.js';

const root = tempDir('results-dir');
const common = ['run', '--systems', 'sqlite', '--payload-types', 'random_binary', '--grades', 'U0,U50,U90', '--files', '8', '--min-size', '4KiB', '--max-size', '8KiB', '--stages', 'bulk_insert,perfile_insert', '--data-dir', join(root, 'data')];
after(() => rmSync(root, { recursive: true, force: true }));

/** Fill the file system under `dir` until it is full (the filler is removed to make space again). */
function fill(dir: string): string {
  const filler = join(dir, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    // dd ends with "No space left on device": that is the point
  }
  return filler;
}

describe('full disk under the results dir', () => {
  const mountPoint = join(root, 'small');
  before(() => {
    mkdirSync(mountPoint, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint]);
  });
  after(() => execFileSync('umount', [mountPoint]));

  it('fails with one line, keeps every earlier line whole, and a rerun with space resumes', async () => {
    const reference = await runCli([...common, '--results-dir', join(root, 'reference')], { cwd: root });
    assert.equal(reference.code, 0, reference.stderr);
    const resultsDir = join(mountPoint, 'results');
    let filler = '';
    const full = await runCli([...common, '--results-dir', resultsDir], {
      cwd: root,
      onStderr: (text) => {
        if (!filler && /cell 1\/3 complete/.test(text)) filler = fill(mountPoint);
      },
    });
    assert.ok(filler, full.stderr);
    assert.equal(full.code, 1, full.stderr);
    const errors = full.stderr.split('\n').filter((line) => /^error/.test(line));
    assert.equal(errors.length, 1, `one error line: ${full.stderr}`);
    assert.match(errors[0] ?? '', /cannot write to the results dir .*: ENOSPC .*every result line written before is kept/);
    assert.doesNotMatch(full.stderr, /^\s+at /m, 'no stack trace');
    const lines = readFileSync(join(resultsDir, 'results.jsonl'), 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length >= 2, 'the first cell’s lines are there');
    for (const line of lines) JSON.parse(line);
    assert.ok(existsSync(join(resultsDir, 'checkpoints', 'sqlite.default.blob.random_binary.U0.r1.json')));

    rmSync(filler);
    const resumed = await runCli([...common, '--results-dir', resultsDir], { cwd: root });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /1 of 3 cells already complete/);
    assert.deepEqual(stageKeys(readRecords(resultsDir)), stageKeys(readRecords(join(root, 'reference'))));
    assert.equal(readCheckpoints(resultsDir).size, 3);
  });
});

describe('one run per results dir', () => {
  it('a lock held by a live process refuses the run (exit 2, naming the pid), nothing written', async () => {
    const resultsDir = join(root, 'locked');
    mkdirSync(resultsDir, { recursive: true });
    const holder = spawn('sleep', ['60']);
    try {
      writeFileSync(join(resultsDir, 'run.lock'), `${holder.pid}\n`);
      const refused = await runCli([...common, '--results-dir', resultsDir], { cwd: root });
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr.trim(), new RegExp(`^error: results dir ".*locked" is in use by another run \\(pid ${holder.pid}, `));
      assert.equal(refused.stderr.trim().split('\n').length, 1);
      assert.equal(existsSync(join(resultsDir, 'results.jsonl')), false);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('a second live run is refused; the lock of a killed run is taken over', async () => {
    const resultsDir = join(root, 'stale');
    let second: Awaited<ReturnType<typeof runCli>> | undefined;
    let firstPid = 0;
    const first = await runCli([...common, '--results-dir', resultsDir], {
      cwd: root,
      onStderr: (text, child) => {
        if (firstPid === 0 && /cell 1\/3 complete/.test(text)) {
          firstPid = child.pid ?? -1;
          // Stopped, the first run is still alive and holds the dir while the second one starts.
          child.kill('SIGSTOP');
          void runCli([...common, '--results-dir', resultsDir], { cwd: root }).then((result) => {
            second = result;
            child.kill('SIGKILL');
            child.kill('SIGCONT');
          });
        }
      },
    });
    assert.equal(first.signal, 'SIGKILL', first.stderr);
    assert.equal(second?.code, 2, second?.stderr);
    assert.match(second?.stderr ?? '', new RegExp(`in use by another run \\(pid ${firstPid}, `));
    assert.equal(readFileSync(join(resultsDir, 'run.lock'), 'utf8').trim(), String(firstPid), 'the killed run left its lock');
    const resumed = await runCli([...common, '--results-dir', resultsDir], { cwd: root });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(readCheckpoints(resultsDir).size, 3);
    assert.equal(existsSync(join(resultsDir, 'run.lock')), false, 'a finished run removes its lock');
  });
});
