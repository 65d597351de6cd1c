import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli, withTempDir } from '../dataset/helpers.js';

test('estimate prints a table, or JSON with --json, whose file ratio equals the ideal EDR', async () => {
  await withTempDir(async (root) => {
    const dataDir = join(root, 'data');
    const generated = await runCli(['generate', '--data-dir', dataDir, '--payload-types', 'random_binary,text_document', '--grades', 'U0,U90', '--files', '20', '--file-size', '16KiB']);
    assert.equal(generated.code, 0, generated.stderr);
    const table = await runCli(['estimate', dataDir]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /payload type\s+grade\s+files\s+bytes\s+file EDR\s+4K block\s+CDC\s+compress/);
    assert.match(table.stdout, /random_binary\s+U90\s+20\s+320 KiB\s+10\.000\s+10\.000\s+10\.000/);
    assert.match(table.stdout, /FastCDC .* min 2048 \/ avg 8192 \/ max 65536/);
    const json = await runCli(['estimate', join(dataDir, 'random_binary', 'U90'), '--json']);
    const [estimate] = JSON.parse(json.stdout) as { fileLevel: { ratio: number; manifestIdealEdr: number }; grade: string }[];
    assert.equal(estimate?.grade, 'U90');
    assert.equal(estimate?.fileLevel.ratio, estimate?.fileLevel.manifestIdealEdr);
  });
});

test('estimate of a folder without data sets is a usage error', async () => {
  await withTempDir(async (root) => {
    const result = await runCli(['estimate', root]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: no data sets under .*; valid: a data dir/);
  });
});
