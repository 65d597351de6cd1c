import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, withTempDir } from '../dataset/helpers.js';

test('bad payload type, grade, size or seed: one line naming the valid values, exit 2, nothing written', async () => {
  await withTempDir(async (root) => {
    const dataDir = join(root, 'data');
    const cases: [string[], RegExp][] = [
      [['--payload-types', 'foo'], /^error: unknown payload type "foo"; valid: random_binary, structured_json, .*mixed\n$/],
      [['--grades', 'U100'], /^error: unknown grade "U100"; valid: U0 … U99/],
      [['--grades', 'X5'], /^error: unknown grade "X5"; valid: U0 … U99/],
      [['--min-size', '-1'], /^error: invalid min size "-1"; valid: a positive byte count/],
      [['--max-size', 'abc'], /^error: invalid max size "abc"; valid: a positive byte count/],
      [['--min-size', '2MiB', '--max-size', '1MiB'], /^error: invalid sizes: min size 2097152 is larger than max size 1048576; valid: min ≤ max\n$/],
      [['--seed', '-3'], /^error: invalid seed "-3"; valid: an integer ≥ 0\n$/],
      [['--seed', 'x'], /^error: invalid seed "x"; valid: an integer ≥ 0\n$/],
      [['--files', '0'], /^error: invalid files "0"; valid: an integer ≥ 1\n$/],
      [['--payload-types', 'nasa_image'], /^error: payload type nasa_image needs a source: --source nasa_image=PATH/],
      [['--dup-distribution', 'pareto'], /^error: unknown dup distribution "pareto"; valid: uniform, zipf\n$/],
    ];
    for (const [args, expected] of cases) {
      const result = await runCli(['generate', '--data-dir', dataDir, ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, expected);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.equal(existsSync(dataDir), false, `${args.join(' ')} created the data dir`);
    }
  });
});

test('--payload-types and --grades limit what is generated; a second run verifies and keeps', async () => {
  await withTempDir(async (root) => {
    const dataDir = join(root, 'data');
    const args = ['generate', '--data-dir', dataDir, '--payload-types', 'uuid_keys,mixed', '--grades', 'U0,U90', '--files', '37', '--file-size', '4KiB'];
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual((await readdir(dataDir)).sort(), ['mixed', 'uuid_keys']);
    assert.deepEqual((await readdir(join(dataDir, 'uuid_keys'))).sort(), ['U0', 'U90']);
    assert.match(first.stderr, /uuid_keys\/U90: 37 files \(4 unique, 33 duplicates\), 148 KiB.* generated/);
    const second = await runCli(args);
    assert.equal(second.code, 0);
    assert.equal(second.stderr.match(/verified and kept/g)?.length, 4, second.stderr);
  });
});

test('sizes accept units and a config file supplies defaults that flags override', async () => {
  await withTempDir(async (root) => {
    const { writeFile, readFile } = await import('node:fs/promises');
    const config = join(root, 'lab.yaml');
    await writeFile(config, `dataDir: ${join(root, 'cfg-data')}\ndataset:\n  payloadTypes: [text_document]\n  grades: [U50]\n  files: 5\n  minSize: 1000\n  maxSize: 2000\n`);
    const result = await runCli(['--config', config, 'generate', '--max-size', '1.5KB']);
    assert.equal(result.code, 0, result.stderr);
    const manifest = JSON.parse(await readFile(join(root, 'cfg-data', 'text_document', 'U50', 'manifest.json'), 'utf8')) as {
      parameters: { maxSize: number; minSize: number; files: number };
    };
    assert.deepEqual([manifest.parameters.files, manifest.parameters.minSize, manifest.parameters.maxSize], [5, 1000, 1500]);
  });
});
