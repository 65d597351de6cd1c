/**
 * Truth test (issue 3 #7): a run killed with SIGKILL in the middle of a cell and started again ends
 * with exactly the cells of an uninterrupted run and no duplicated result lines — the predecessor
 * lost or duplicated results when a job died.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoints, readRecords } from '../../src/experiment/results.js';
import { runCli, stageKeys, tempDir } from './helpers.js';

it('SIGKILL mid-cell, then rerun: exactly the cells of an uninterrupted run, no duplicate lines', async () => {
  const root = tempDir('kill');
  const common = ['run', '--systems', 'sqlite', '--payload-types', 'random_binary,text_document', '--grades', 'U0,U50,U90', '--files', '20', '--min-size', '4KiB', '--max-size', '32KiB', '--data-dir', join(root, 'data')];

  const reference = await runCli([...common, '--results-dir', join(root, 'reference')], { cwd: root });
  assert.equal(reference.code, 0, reference.stderr);
  const expected = stageKeys(readRecords(join(root, 'reference')));
  assert.equal(expected.length, 6 * 5);

  const killedDir = join(root, 'killed');
  let killed = false;
  const first = await runCli([...common, '--results-dir', killedDir], {
    cwd: root,
    onStderr: (text, child) => {
      // The third cell has written two stages: SIGKILL now, in the middle of it.
      if (!killed && /random_binary\.U90\.r1 compaction/.test(text)) {
        killed = true;
        child.kill('SIGKILL');
      }
    },
  });
  assert.ok(killed, first.stderr);
  assert.equal(first.signal, 'SIGKILL');
  const afterKill = readRecords(killedDir);
  assert.ok(afterKill.some((record) => record.cellId === 'sqlite.default.blob.random_binary.U90.r1'), 'lines of the unfinished cell were written before the kill');
  assert.equal(readCheckpoints(killedDir).size, 2, 'only the two finished cells are checkpointed');
  // Simulate the torn line a kill during an append can leave behind.
  appendFileSync(join(killedDir, 'results.jsonl'), '{"runId":"torn","cellId":"sqlite.default.bl');

  const resumed = await runCli([...common, '--results-dir', killedDir], { cwd: root });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /2 of 6 cells already complete/);
  assert.equal(resumed.stderr.match(/1 cut line \(a crash mid-write\) ignored; resuming from the last whole line/g)?.length, 1, 'the cut line is reported once, as a warning');
  const records = readRecords(killedDir);
  assert.deepEqual(stageKeys(records), expected, 'the same cells and stages as the uninterrupted run, each exactly once');
  assert.ok(!readFileSync(join(killedDir, 'results.jsonl'), 'utf8').includes('torn'));
  assert.ok([...readCheckpoints(killedDir).values()].every((checkpoint) => checkpoint.status === 'complete'));
  assert.equal(readCheckpoints(killedDir).size, 6);
});
