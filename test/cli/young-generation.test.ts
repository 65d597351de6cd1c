/**
 * bin/dedup-lab.js caps V8's young generation (--max-semi-space-size=2) for every command that loads
 * the program, by replacing its own process (execve: same pid, so whoever measures the tool's RSS
 * still sees it). docs/running.md "Memory" has what the cap saves at --total-size 1GiB.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../experiment/helpers.js';

/** The command line of the tool's process once it writes its first output (after any execve). */
async function commandLineWhileRunning(env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; commandLine: string[] }> {
  const dir = tempDir('young-generation');
  let commandLine: string[] = [];
  const args = ['run', '--systems', 'sqlite', '--payload-types', 'random_binary', '--grades', 'U50', '--files', '8', '--stages', 'bulk_insert'];
  const result = await runCli([...args, '--data-dir', join(dir, 'd'), '--results-dir', join(dir, 'r')], {
    cwd: dir,
    env,
    onStderr: (_text, child) => {
      if (commandLine.length === 0 && child.pid) commandLine = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    },
  });
  return { code: result.code, commandLine };
}

test('a run executes with the young-generation cap, in the process that was started (same pid)', async () => {
  const { code, commandLine } = await commandLineWhileRunning();
  assert.equal(code, 0);
  assert.ok(commandLine.includes('--max-semi-space-size=2'), commandLine.join(' '));
  assert.ok(commandLine.some((arg) => arg.endsWith('dedup-lab.js')) && commandLine.includes('run'), commandLine.join(' '));
});

test('a semi-space size the user set (NODE_OPTIONS) is kept: no re-exec', async () => {
  const { code, commandLine } = await commandLineWhileRunning({ NODE_OPTIONS: '--max-semi-space-size=4' });
  assert.equal(code, 0);
  assert.ok(commandLine.length > 0 && !commandLine.includes('--max-semi-space-size=2'), commandLine.join(' '));
});
