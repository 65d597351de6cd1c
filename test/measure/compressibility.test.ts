import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { compressibilityOf, compressionRatio } from '../../src/measure/compressibility.js';
import type { Manifest } from '../../src/dataset/manifest.js';
import { backoffDelayMs } from '../../src/measure/backoff.js';

function manifestOf(dir: string, files: Buffer[], duplicateOfFirst: boolean[]): Manifest {
  const entries = files.map((content, index) => {
    const name = `${String(index).padStart(5, '0')}.bin`;
    writeFileSync(join(dir, name), content);
    return { name, size: content.length, sha256: createHash('sha256').update(content).digest('hex'), duplicateOf: duplicateOfFirst[index] ? '00000.bin' : null, payloadType: 'x' };
  });
  const logicalBytes = files.reduce((sum, file) => sum + file.length, 0);
  return {
    generatorVersion: 'test',
    parameters: { payloadType: 'x', grade: 'U0', files: files.length, minSize: 1, maxSize: 1, seed: 1, dupDistribution: 'uniform', source: null },
    entries,
    totals: { files: files.length, uniqueFiles: files.length, duplicateFiles: 0, logicalBytes, uniqueBytes: logicalBytes, idealEdr: 1 },
  };
}

describe('compressibilityOf', () => {
  it('is 1 for random data and well above 2 for repetitive text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dedup-compress-'));
    const random = manifestOf(dir, [randomBytes(64 * 1024), randomBytes(32 * 1024)], [false, false]);
    assert.equal(await compressibilityOf(dir, random), 1);
    const words = 'the quick brown fox jumps over the lazy dog while storage engines count their pages ';
    const text = manifestOf(dir, [Buffer.from(words.repeat(800)), Buffer.from(words.repeat(400))], [false, false]);
    assert.ok((await compressibilityOf(dir, text)) > 2);
    rmSync(dir, { recursive: true, force: true });
  });

  it('samples unique files only (duplicates are the ideal EDR, not compression)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dedup-compress-'));
    const random = randomBytes(16 * 1024);
    const manifest = manifestOf(dir, [random, Buffer.alloc(16 * 1024)], [false, true]);
    assert.equal(await compressibilityOf(dir, manifest), 1);
    rmSync(dir, { recursive: true, force: true });
  });

  it('ratio never goes below 1', () => {
    assert.equal(compressionRatio(100, 120), 1);
    assert.equal(compressionRatio(0, 0), 1);
    assert.equal(compressionRatio(300, 100), 3);
  });
});

describe('backoffDelayMs', () => {
  it('doubles the cap each retry, jittered within [cap/2, cap], capped at maxMs', () => {
    const options = { baseMs: 100, maxMs: 1000 };
    assert.equal(backoffDelayMs(1, options, () => 0), 50);
    assert.equal(backoffDelayMs(1, options, () => 1), 100);
    assert.equal(backoffDelayMs(3, options, () => 1), 400);
    assert.equal(backoffDelayMs(10, options, () => 1), 1000);
    assert.equal(backoffDelayMs(0, options), 0);
  });
});
