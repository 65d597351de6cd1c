/**
 * releaseContent (shared/stages.ts): a file buffer the caller owns whole is freed at once (its
 * memory leaves `arrayBuffers` without a GC); a view into a shared buffer is never touched.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { disposable, releaseContent } from '../../../src/systems/shared/stages.js';

it('frees a whole file buffer its owner marked disposable immediately, without a GC; an unmarked one never', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-release-content-'));
  const path = join(dir, 'f.bin');
  writeFileSync(path, randomBytes(8 * 1024 * 1024));
  const file = { content: disposable(readFileSync(path)) };
  const kept = { content: readFileSync(path) };
  rmSync(dir, { recursive: true, force: true });
  const before = process.memoryUsage().arrayBuffers;
  releaseContent(file);
  const after = process.memoryUsage().arrayBuffers;
  assert.equal(file.content.length, 0, 'the released buffer reads as empty');
  assert.ok(before - after >= 8 * 1024 * 1024, `arrayBuffers went from ${before} to ${after}`);
  releaseContent(file); // a second release is a no-op
  releaseContent(kept);
  assert.equal(kept.content.length, 8 * 1024 * 1024, 'a buffer its owner did not mark disposable is never freed');
});

it('leaves views into a shared buffer (Node pool slices, driver response slices) intact', () => {
  const shared = randomBytes(64 * 1024);
  const view = { content: disposable(shared.subarray(1024, 2048)) };
  const copy = Buffer.from(view.content);
  releaseContent(view);
  assert.deepEqual(view.content, copy);
  assert.equal(shared.length, 64 * 1024);
  const pooled = { content: disposable(Buffer.from('small, from the pool')) };
  releaseContent(pooled);
  assert.equal(pooled.content.toString(), 'small, from the pool');
});
