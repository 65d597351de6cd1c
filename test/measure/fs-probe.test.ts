import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, openSync, ftruncateSync, closeSync, linkSync, symlinkSync, statSync, rmSync, lstatSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { allocatedBytes, fsProbe } from '../../src/measure/probes/fs.js';

describe('fs probe', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-fs-probe-'));

  it('counts allocated blocks, not apparent size: a 64 MiB sparse file costs (almost) nothing', async () => {
    const sparse = join(dir, 'sparse.bin');
    const fd = openSync(sparse, 'w');
    ftruncateSync(fd, 64 * 1024 * 1024);
    closeSync(fd);
    const bytes = await allocatedBytes([sparse]);
    assert.ok(bytes < 1024n * 1024n, `sparse file allocated ${bytes} bytes`);
    assert.equal(statSync(sparse).size, 64 * 1024 * 1024);
  });

  it('sums recursively, counts hard links once and does not follow symlinks', async () => {
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    writeFileSync(join(tree, 'a.bin'), randomBytes(256 * 1024));
    writeFileSync(join(tree, 'sub', 'b.bin'), randomBytes(128 * 1024));
    const before = await allocatedBytes([tree]);
    assert.ok(before >= BigInt(384 * 1024), `tree allocated ${before}`);
    linkSync(join(tree, 'a.bin'), join(tree, 'a-link.bin'));
    symlinkSync(join(tree, 'a.bin'), join(tree, 'a-sym.bin'));
    const after = await allocatedBytes([tree]);
    assert.ok(after - before < 8192n, `a hard link and a symlink added ${after - before} bytes`);
  });

  it('equals st_blocks × 512 summed over every distinct inode (a reference walk), whatever the path spelling', async () => {
    const tree = join(dir, 'deep');
    for (const sub of ['p1/a', 'p1/b', 'p2']) mkdirSync(join(tree, sub), { recursive: true });
    ['p1/a/x.bin', 'p1/b/y.bin', 'p2/z.bin', 'top.bin'].forEach((name, index) => writeFileSync(join(tree, name), randomBytes(4096 * (index + 1) + 17)));
    linkSync(join(tree, 'p1/a/x.bin'), join(tree, 'p2/x-again.bin'));
    const seen = new Set<string>();
    let expected = 0n;
    const reference = (path: string): void => {
      const stats = lstatSync(path, { bigint: true });
      if (seen.has(`${stats.dev}:${stats.ino}`)) return;
      seen.add(`${stats.dev}:${stats.ino}`);
      expected += stats.blocks * 512n;
      if (stats.isDirectory()) for (const name of readdirSync(path)) reference(join(path, name));
    };
    reference(tree);
    assert.equal(await allocatedBytes([tree]), expected);
    assert.equal(await allocatedBytes([`${tree}/`]), expected);
    // The same tree given twice (and a file inside it) is still counted once.
    assert.equal(await allocatedBytes([tree, join(tree, 'p1'), join(tree, 'top.bin')]), expected);
  });

  it('reads missing paths as zero and the probe reports a number', async () => {
    assert.equal(await allocatedBytes([join(dir, 'nope')]), 0n);
    const probe = fsProbe({ paths: [join(dir, 'tree')] });
    assert.equal(probe.name, 'fs');
    assert.equal(probe.replicas, 1);
    const reading = await probe.read();
    assert.ok((reading.bytes ?? 0) > 0);
    rmSync(dir, { recursive: true, force: true });
  });
});
