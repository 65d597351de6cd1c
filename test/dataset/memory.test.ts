import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, runCli, withTempDir } from './helpers.js';

const LIMIT = 256 * 1024 * 1024;
const GIB = 1024 * 1024 * 1024;

test('slicing a 1 GiB source into 64 MiB files keeps peak RSS under 256 MiB', { timeout: 120_000 }, async () => {
  await withTempDir(async (root) => {
    // A sparse 1 GiB source with a distinct marker every MiB, so every 64 MiB slice differs.
    const source = join(root, 'big.bin');
    const handle = await open(source, 'w');
    for (let mib = 0; mib < 1024; mib++) await handle.write(Buffer.from(`marker ${mib} `), 0, undefined, mib * 1024 * 1024);
    await handle.truncate(GIB);
    await handle.close();
    assert.equal((await stat(source)).size, GIB);

    const rssFile = join(root, 'rss');
    const result = await runCli(
      ['generate', '--data-dir', join(root, 'data'), '--payload-types', 'blender_video', '--source', `blender_video=${source}`, '--grades', 'U50', '--files', '20', '--file-size', '64MiB'],
      { NODE_OPTIONS: `--import ${join(REPO_ROOT, 'test/dataset/fixtures/report-max-rss.mjs')}`, DEDUP_LAB_RSS_FILE: rssFile },
    );
    assert.equal(result.code, 0, result.stderr);
    const dir = join(root, 'data', 'blender_video', 'U50');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { totals: { uniqueFiles: number; logicalBytes: number } };
    assert.equal(manifest.totals.uniqueFiles, 10);
    assert.equal(manifest.totals.logicalBytes, 20 * 64 * 1024 * 1024);
    assert.equal((await readdir(dir)).length, 21);
    const peak = Number(await readFile(rssFile, 'utf8'));
    assert.ok(peak > 10 * 1024 * 1024, `implausible RSS reading ${peak}`);
    assert.ok(peak < LIMIT, `peak RSS ${(peak / 1048576).toFixed(1)} MiB ≥ 256 MiB`);
    console.log(`peak RSS while slicing: ${(peak / 1048576).toFixed(1)} MiB`);
  });
});

test('a source too small for the set is refused before anything is written', async () => {
  await withTempDir(async (root) => {
    const source = join(root, 'small.bin');
    const handle = await open(source, 'w');
    await handle.truncate(1000);
    await handle.close();
    const dataDir = join(root, 'data');
    const result = await runCli(['generate', '--data-dir', dataDir, '--payload-types', 'nasa_image', '--source', `nasa_image=${source}`, '--grades', 'U0', '--files', '3', '--file-size', '1KiB']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: source for nasa_image \(.*small\.bin\) is too small: the unique files need 3072 bytes, the source has 1000 bytes/);
  });
});
