import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { ensureDataset, iterateLabFiles, readManifest, SYNTHETIC_TYPES, GENERATOR_VERSION } from '../../src/dataset/index.js';
import { params, withTempDir } from './helpers.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

test('U90 of 100 files writes 10 unique and 90 duplicate files with a correct manifest', async () => {
  await withTempDir(async (dataDir) => {
    const { dir, manifest, generated } = await ensureDataset(params({ files: 100, grade: 'U90', maxSize: 8192 }), dataDir);
    assert.equal(generated, true);
    assert.equal(dir, join(dataDir, 'random_binary', 'U90'));
    assert.equal(manifest.generatorVersion, GENERATOR_VERSION);
    assert.deepEqual([manifest.totals.files, manifest.totals.uniqueFiles, manifest.totals.duplicateFiles], [100, 10, 90]);
    const names = (await readdir(dir)).sort();
    assert.equal(names.length, 101);
    assert.ok(names.includes('manifest.json') && names.includes('00000.bin') && names.includes('00099.bin'));
    let logical = 0;
    let unique = 0;
    for (const entry of manifest.entries) {
      const content = await readFile(join(dir, entry.name));
      assert.equal(content.length, entry.size);
      assert.equal(sha256(content), entry.sha256);
      logical += entry.size;
      if (entry.duplicateOf === null) unique += entry.size;
      else assert.equal(entry.sha256, manifest.entries.find((other) => other.name === entry.duplicateOf)?.sha256);
    }
    assert.equal(manifest.totals.logicalBytes, logical);
    assert.equal(manifest.totals.uniqueBytes, unique);
    assert.equal(manifest.totals.idealEdr, logical / unique);
    assert.equal(new Set(manifest.entries.map((entry) => entry.sha256)).size, 10);
    // No temporary folders left beside the set.
    assert.deepEqual(await readdir(join(dataDir, 'random_binary')), ['U90']);
  });
});

test('odd set sizes give exact counts on disk', async () => {
  await withTempDir(async (dataDir) => {
    for (const [files, grade, duplicates] of [
      [37, 'U50', 19],
      [37, 'U90', 33],
      [1, 'U90', 0],
      [3, 'U50', 2],
      [3, 'U0', 0],
    ] as const) {
      const { manifest } = await ensureDataset(params({ files, grade, minSize: 100, maxSize: 300 }), join(dataDir, `${files}`));
      assert.equal(manifest.totals.duplicateFiles, duplicates, `${files} ${grade}`);
      assert.equal(new Set(manifest.entries.map((entry) => entry.sha256)).size, files - duplicates);
    }
  });
});

test('same parameters and seed give byte-identical files; another seed gives other data', async () => {
  await withTempDir(async (dataDir) => {
    for (const payloadType of [...SYNTHETIC_TYPES, 'mixed']) {
      const a = await ensureDataset(params({ payloadType, files: 6 }), join(dataDir, 'a'));
      const b = await ensureDataset(params({ payloadType, files: 6 }), join(dataDir, 'b'));
      const c = await ensureDataset(params({ payloadType, files: 6, seed: 7 }), join(dataDir, 'c'));
      assert.deepEqual(b.manifest.entries, a.manifest.entries, payloadType);
      for (const entry of a.manifest.entries) {
        assert.equal(sha256(await readFile(join(b.dir, entry.name))), entry.sha256);
      }
      const aHashes = new Set(a.manifest.entries.map((entry) => entry.sha256));
      assert.ok(c.manifest.entries.every((entry) => !aHashes.has(entry.sha256)), `${payloadType}: seed 7 repeats seed 42 content`);
    }
  });
});

test('random data shares no 4 KiB block between files or within a file', async () => {
  await withTempDir(async (dataDir) => {
    const { dir, manifest } = await ensureDataset(params({ files: 30, grade: 'U0', minSize: 64 * 1024, maxSize: 256 * 1024 }), dataDir);
    const blocks = new Set<string>();
    let count = 0;
    for await (const file of iterateLabFiles(dir, manifest)) {
      for (let offset = 0; offset + 4096 <= file.size; offset += 4096) {
        blocks.add(sha256(file.content.subarray(offset, offset + 4096)));
        count++;
      }
      // Incompressible: deflate cannot shrink it.
      assert.ok(deflateSync(file.content).length >= file.size * 0.99);
    }
    assert.equal(blocks.size, count);
  });
});

test('structured types have realistic, valid content', async () => {
  await withTempDir(async (dataDir) => {
    const read = async (payloadType: string): Promise<string[]> => {
      const { dir, manifest } = await ensureDataset(params({ payloadType, files: 5, grade: 'U0', minSize: 20_000, maxSize: 60_000 }), dataDir);
      return Promise.all(manifest.entries.map((entry) => readFile(join(dir, entry.name), 'utf8')));
    };
    for (const type of ['structured_json', 'jsonb_documents']) {
      for (const text of await read(type)) {
        const records = JSON.parse(text) as Record<string, unknown>[];
        assert.ok(Array.isArray(records) && records.length > 10, type);
        if (type === 'structured_json') assert.equal(typeof records[0]?.email, 'string');
        else assert.equal(typeof (records[0]?.customer as Record<string, unknown>).address, 'object');
      }
    }
    for (const text of await read('text_document')) {
      const words = text.split(/\s+/);
      assert.ok(words.length > 1000 && /^[A-Z]/.test(text) && text.includes('\n\n'));
      assert.ok(deflateSync(text).length * 2 < text.length, 'prose compresses better than 2:1');
    }
    for (const text of await read('uuid_keys')) {
      const lines = text.split('\n').filter(Boolean);
      assert.ok(lines.length > 100 && lines.every((line) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(line)));
    }
    for (const type of ['numeric_dataset', 'bank_transactions']) {
      for (const text of await read(type)) {
        const [header, ...rows] = text.split('\n').filter(Boolean);
        const columns = (header as string).split(',');
        assert.ok(rows.length > 100);
        for (const row of rows) assert.equal(row.split(',').length, columns.length, `${type}: ${row}`);
        const first = (rows[0] as string).split(',');
        if (type === 'numeric_dataset') assert.ok(first.every((value) => Number.isFinite(Number(value))));
        else {
          assert.match(first[2] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
          assert.match(first[3] as string, /^-?\d+\.\d\d$/);
        }
      }
    }
  });
});

test('tiny and odd sizes are exact and JSON still parses', async () => {
  await withTempDir(async (dataDir) => {
    for (const payloadType of SYNTHETIC_TYPES) {
      for (const size of [1, 2, 5, 37, 999, 4097]) {
        const files = size < 40 && payloadType !== 'random_binary' ? 1 : 3;
        const { dir, manifest } = await ensureDataset(params({ payloadType, files, grade: 'U0', minSize: size, maxSize: size }), join(dataDir, `${size}`));
        for (const entry of manifest.entries) {
          const content = await readFile(join(dir, entry.name));
          assert.equal(content.length, size, `${payloadType} ${size}`);
          if (entry.name.endsWith('.json')) JSON.parse(content.toString());
        }
      }
    }
  });
});

test('mixed sets record a payload type and extension per file', async () => {
  await withTempDir(async (dataDir) => {
    const { manifest } = await ensureDataset(params({ payloadType: 'mixed', files: 60, grade: 'U50' }), dataDir);
    const extensions: Record<string, string> = { random_binary: 'bin', structured_json: 'json', text_document: 'txt', uuid_keys: 'uuid', jsonb_documents: 'json', numeric_dataset: 'csv', bank_transactions: 'csv' };
    assert.ok(new Set(manifest.entries.map((entry) => entry.payloadType)).size >= 5);
    for (const entry of manifest.entries) assert.ok(entry.name.endsWith(`.${extensions[entry.payloadType]}`), entry.name);
  });
});

test('re-running with the same parameters verifies and keeps; changed parameters or damage regenerate', async () => {
  await withTempDir(async (dataDir) => {
    const first = await ensureDataset(params(), dataDir);
    const firstFile = join(first.dir, first.manifest.entries[0]?.name as string);
    const before = (await stat(firstFile)).mtimeMs;
    const again = await ensureDataset(params(), dataDir);
    assert.equal(again.generated, false);
    assert.equal((await stat(firstFile)).mtimeMs, before);

    const changed = await ensureDataset(params({ files: 21 }), dataDir);
    assert.equal(changed.generated, true);
    assert.equal((await readManifest(changed.dir)).totals.files, 21);

    // Damage one byte: verification notices and the set is rebuilt byte-identical to the manifest.
    const victim = join(changed.dir, changed.manifest.entries[3]?.name as string);
    const content = await readFile(victim);
    content[0] = (content[0] as number) ^ 0xff;
    await writeFile(victim, content);
    const repaired = await ensureDataset(params({ files: 21 }), dataDir);
    assert.equal(repaired.generated, true);
    assert.deepEqual(repaired.manifest.entries, changed.manifest.entries);
    assert.equal(sha256(await readFile(victim)), changed.manifest.entries[3]?.sha256);
  });
});

test('an aborted generation leaves no set and no temporary folder behind', async () => {
  await withTempDir(async (dataDir) => {
    const abort = new AbortController();
    await assert.rejects(
      ensureDataset(params({ files: 50 }), dataDir, { signal: abort.signal, onProgress: (done) => done === 10 && abort.abort(new Error('stop')) }),
      /stop/,
    );
    assert.deepEqual(await readdir(join(dataDir, 'random_binary')), []);
  });
});

test('iterateLabFiles hands out files one by one, by id', async () => {
  await withTempDir(async (dataDir) => {
    const { dir, manifest } = await ensureDataset(params(), dataDir);
    const all = [];
    for await (const file of iterateLabFiles(dir, manifest)) all.push(file);
    assert.equal(all.length, 20);
    assert.deepEqual(all.map((file) => file.id), [...Array(20).keys()]);
    for (const file of all) assert.equal(sha256(file.content), file.sha256);
    const some = [];
    for await (const file of iterateLabFiles(dir, manifest, { ids: [7, 2] })) some.push(file.name);
    assert.deepEqual(some, [manifest.entries[7]?.name, manifest.entries[2]?.name]);
  });
});

test('large files are written with O_DIRECT: the set matches its manifest and stays out of the page cache', async () => {
  await withTempDir(async (dataDir) => {
    const size = 5 * 1024 * 1024 + 17;
    const { dir, manifest } = await ensureDataset(params({ files: 4, grade: 'U50', minSize: size, maxSize: size }), dataDir);
    assert.equal(manifest.totals.duplicateFiles, 2);
    for (const entry of manifest.entries) {
      const content = await readFile(join(dir, entry.name));
      assert.equal(content.length, size);
      assert.equal(sha256(content), entry.sha256);
    }
    // The reads above cached those files: the page-cache check uses a fresh set.
    const fresh = await ensureDataset(params({ files: 2, grade: 'U0', minSize: size, maxSize: size, seed: 7 }), dataDir);
    const path = join(fresh.dir, fresh.manifest.entries[0]?.name ?? '');
    const cached = Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
    assert.ok(cached < 1024 * 1024, `${cached} bytes of a freshly generated large file are in the page cache`);
  });
});

test('a full disk fails generation cleanly: the error names ENOSPC and nothing that looks like a set is left', async () => {
  // A small tmpfs (mounting needs root, as the services do) fills up after about 8 MiB.
  const dataDir = await mkdtemp(join(tmpdir(), 'dedup-lab-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dataDir]);
  try {
    const size = 5 * 1024 * 1024;
    await assert.rejects(ensureDataset(params({ files: 3, grade: 'U0', minSize: size, maxSize: size }), dataDir), /ENOSPC/);
    assert.deepEqual(await readdir(join(dataDir, 'random_binary')).catch(() => []), [], 'no set and no temporary folder is left');
  } finally {
    execFileSync('umount', [dataDir]);
    await rm(dataDir, { recursive: true, force: true });
  }
});
