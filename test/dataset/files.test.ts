import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSink, SyncQueue, writeChunks } from '../../src/dataset/files.js';
import { randomBinary } from '../../src/dataset/payloads/synthetic.js';
import { deriveKey } from '../../src/dataset/prng.js';
import { REPO_ROOT, withTempDir } from './helpers.js';

const MiB = 1024 * 1024;
/** Sizes around the O_DIRECT block (4096) and the ring slot (1 MiB) boundaries. */
const SIZES = [0, 1, 4095, 4096, 4097, MiB - 1, MiB, MiB + 1, 5 * MiB + 123];

/** Reference content: random bytes in uneven chunks (so chunk and slot boundaries never line up). */
function* unevenChunks(size: number, seed: number): Iterable<Buffer> {
  const stream = randomBinary(deriveKey('files-test', seed), size);
  let carry = Buffer.alloc(0);
  let cut = 1;
  for (const chunk of stream) {
    carry = Buffer.concat([carry, chunk]);
    while (carry.length > cut) {
      yield carry.subarray(0, cut);
      carry = carry.subarray(cut);
      cut = (cut * 7 + 13) % 100_003;
    }
  }
  if (carry.length > 0) yield carry;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

for (const direct of [false, true]) {
  test(`FileSink (${direct ? 'O_DIRECT' : 'buffered'}) writes exactly the bytes it is given and their sha256`, async () => {
    await withTempDir(async (dir) => {
      const queue = new SyncQueue();
      for (const size of SIZES) {
        const expected = Buffer.concat(Array.from(unevenChunks(size, size), (chunk) => Buffer.from(chunk)));
        const path = join(dir, `f-${size}`);
        const sink = await FileSink.create(path, { syncQueue: queue, direct });
        assert.equal(sink.direct, direct, 'O_DIRECT is supported on the test folder’s file system (ext4), so it must be used when asked');
        for (const chunk of unevenChunks(size, size)) await sink.write(chunk);
        const written = await sink.close();
        assert.equal(written.size, size);
        assert.equal(written.sha256, sha256(expected), `sha256 of ${size} bytes`);
        await queue.drain();
        const actual = await readFile(path);
        assert.equal(actual.length, size, `file of ${size} bytes has ${actual.length} (direct writes are padded, then truncated)`);
        assert.ok(actual.equals(expected), `content of ${size} bytes`);
      }
    });
  });
}

test('a chunk may be reused by the caller as soon as write returns', async () => {
  await withTempDir(async (dir) => {
    const chunk = Buffer.alloc(300_000, 1);
    const path = join(dir, 'reuse');
    const sink = await FileSink.create(path);
    for (let value = 1; value <= 10; value++) {
      chunk.fill(value);
      await sink.write(chunk);
    }
    chunk.fill(0);
    await sink.close();
    const content = await readFile(path);
    for (let value = 1; value <= 10; value++) assert.equal(content[(value - 1) * chunk.length + 123], value);
  });
});

test('O_DIRECT falls back to buffered writes where the file system refuses it (ramfs)', async () => {
  // ramfs has no direct I/O (tmpfs does, since Linux 6.6). Mounting needs root, as the services do.
  const dir = await mkdtemp(join(tmpdir(), 'dedup-lab-ramfs-'));
  execFileSync('mount', ['-t', 'ramfs', 'ramfs', dir]);
  try {
    const sink = await FileSink.create(join(dir, 'f'), { direct: true });
    assert.equal(sink.direct, false);
    const expected = Buffer.alloc(3 * MiB + 1, 7);
    await sink.write(expected);
    assert.equal((await sink.close()).sha256, sha256(expected));
    assert.ok((await readFile(join(dir, 'f'))).equals(expected));
    assert.deepEqual(await readdir(dir), ['f'], 'the O_DIRECT probe file is removed');
  } finally {
    execFileSync('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  }
});

test('O_DIRECT files bypass the page cache: nothing of them is cached after writing (fincore)', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'direct');
    await writeChunks(path, randomBinary(deriveKey('files-test', 'fincore'), 8 * MiB), { direct: true });
    const cached = Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
    assert.ok(cached < MiB, `${cached} bytes of an O_DIRECT file are in the page cache`);
  });
});

test('a failing chunk source leaves the ring reusable: the next file is still correct', async () => {
  await withTempDir(async (dir) => {
    function* failing(): Iterable<Buffer> {
      yield Buffer.alloc(3 * MiB, 1);
      throw new Error('source broke');
    }
    await assert.rejects(writeChunks(join(dir, 'broken'), failing(), { direct: true }), /source broke/);
    const expected = Buffer.alloc(3 * MiB + 5, 9);
    const written = await writeChunks(join(dir, 'next'), [expected], { direct: true });
    assert.equal(written.sha256, sha256(expected));
    assert.ok((await readFile(join(dir, 'next'))).equals(expected));
  });
});

test('the sha256 worker never keeps a finished process alive', () => {
  const script = `
    const { writeChunks } = await import(${JSON.stringify(join(REPO_ROOT, 'src/dataset/files.ts'))});
    const path = ${JSON.stringify(join(REPO_ROOT, '.dedup-lab', `exit-test-${process.pid}`))};
    const written = await writeChunks(path, [Buffer.alloc(5 * 1024 * 1024, 3)]);
    (await import('node:fs')).rmSync(path);
    console.log(written.sha256);
  `;
  execFileSync('mkdir', ['-p', join(REPO_ROOT, '.dedup-lab')]);
  const started = Date.now();
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), sha256(Buffer.alloc(5 * MiB, 3)));
  assert.ok(Date.now() - started < 20_000, 'the process exited promptly');
});
