import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ensureDataset, parseRecords } from '../../src/dataset/index.js';
import { UsageError } from '../../src/core/errors.js';
import { params, withTempDir } from './helpers.js';

/** Lines of JSON events, each distinct, ~120 bytes. */
function jsonLines(count: number): string {
  let text = '';
  for (let i = 0; i < count; i++) text += `${JSON.stringify({ id: i, type: 'PushEvent', repo: `org/repo-${i % 97}`, payload: { size: i % 13 } })}\n`;
  return text;
}

async function uniqueFilesInOrder(dir: string): Promise<Buffer> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { entries: { name: string; duplicateOf: string | null }[] };
  const parts = [];
  for (const entry of manifest.entries) if (entry.duplicateOf === null) parts.push(await readFile(join(dir, entry.name)));
  return Buffer.concat(parts);
}

test('a binary source is cut into consecutive, non-overlapping slices of the planned sizes', async () => {
  await withTempDir(async (root) => {
    const source = join(root, 'video.mp4');
    const bytes = Buffer.alloc(600_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >> 9)) & 255;
    await writeFile(source, bytes);
    const { dir, manifest } = await ensureDataset(params({ payloadType: 'blender_video', source, files: 30, grade: 'U50', minSize: 5000, maxSize: 30000 }), join(root, 'data'));
    assert.equal(manifest.totals.uniqueFiles, 15);
    const unique = await uniqueFilesInOrder(dir);
    assert.equal(unique.length, manifest.totals.uniqueBytes);
    assert.ok(unique.equals(bytes.subarray(0, unique.length)), 'unique files are the source prefix in order');
    assert.ok(manifest.entries.every((entry) => entry.name.endsWith('.mp4')));
    assert.equal(new Set(manifest.entries.map((entry) => entry.sha256)).size, 15);
  });
});

test('line-based sources are cut at line ends, from a plain file, a .gz file or a folder', async () => {
  await withTempDir(async (root) => {
    const text = jsonLines(3000);
    await writeFile(join(root, 'events.jsonl'), text);
    await writeFile(join(root, 'events.jsonl.gz'), gzipSync(text));
    await mkdir(join(root, 'folder'));
    // Folder sources are the files concatenated in sorted order: b after a.
    const half = text.indexOf('\n', text.length / 2) + 1;
    await writeFile(join(root, 'folder', 'b.jsonl'), text.slice(half));
    await writeFile(join(root, 'folder', 'a.jsonl'), text.slice(0, half));
    for (const source of ['events.jsonl', 'events.jsonl.gz', 'folder']) {
      const { dir, manifest } = await ensureDataset(
        params({ payloadType: 'github_events', source: join(root, source), files: 40, grade: 'U50', minSize: 2000, maxSize: 9000 }),
        join(root, 'data', source),
      );
      assert.equal(manifest.totals.uniqueFiles, 20);
      const unique = await uniqueFilesInOrder(dir);
      assert.equal(unique.toString(), text.slice(0, unique.length), source);
      for (const entry of manifest.entries) {
        const content = await readFile(join(dir, entry.name));
        assert.ok(entry.size <= 9000 && entry.size > 2000 - 200, `${source} ${entry.name} ${entry.size}`);
        assert.equal(content.at(-1), 10, `${entry.name} ends at a line end`);
        // Every line is a whole JSON record: native parsing accepts every line.
        let rows = 0;
        for await (const row of parseRecords('github_events', content)) rows += row.length;
        assert.equal(rows, content.toString().split('\n').filter(Boolean).length);
      }
    }
  });
});

test('a source too small is a usage error stating the bytes needed and available, and nothing is written', async () => {
  await withTempDir(async (root) => {
    const source = join(root, 'small.txt');
    await writeFile(source, 'word '.repeat(2000)); // 10,000 bytes
    await writeFile(`${source}.gz`, gzipSync('line of text\n'.repeat(800))); // 10,400 bytes decompressed
    for (const [path, available] of [
      [source, 10_000],
      [`${source}.gz`, 10_400],
    ] as const) {
      const dataDir = join(root, 'data');
      await assert.rejects(
        ensureDataset(params({ payloadType: 'text_corpus', source: path, files: 10, grade: 'U0', minSize: 4096, maxSize: 4096 }), dataDir),
        (error: unknown) => error instanceof UsageError && error.message.includes('need 40960 bytes') && error.message.includes(`has ${available} bytes`),
      );
      const left = await readdir(join(dataDir, 'text_corpus')).catch(() => []);
      assert.deepEqual(left, [], 'no set and no temporary folder');
    }
  });
});

test('a source that repeats itself never yields two equal unique files', async () => {
  await withTempDir(async (root) => {
    const source = join(root, 'repeating.bin');
    // Two identical 4 KiB halves then distinct data: slice 2 would equal slice 1 and is skipped.
    const block = Buffer.alloc(4096, 7);
    const rest = Buffer.alloc(40_000);
    for (let i = 0; i < rest.length; i++) rest[i] = (i * 31 + (i >> 8) * 17) & 255;
    await writeFile(source, Buffer.concat([block, block, rest]));
    const { manifest } = await ensureDataset(params({ payloadType: 'nasa_image', source, files: 5, grade: 'U0', minSize: 4096, maxSize: 4096 }), join(root, 'data'));
    assert.equal(new Set(manifest.entries.map((entry) => entry.sha256)).size, 5);
  });
});
