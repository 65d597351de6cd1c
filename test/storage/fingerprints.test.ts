import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FingerprintSet } from '../../src/storage/fingerprints.js';

const digest = (n: number): Buffer => createHash('sha256').update(String(n)).digest();

test('FingerprintSet: distinct digests counted once, across growth, equal to a Set of hex keys', () => {
  const set = new FingerprintSet(4);
  const reference = new Set<string>();
  for (let i = 0; i < 50_000; i++) {
    const value = digest(i % 20_011);
    assert.equal(set.add(value), !reference.has(value.subarray(0, 16).toString('hex')));
    reference.add(value.subarray(0, 16).toString('hex'));
  }
  assert.equal(set.size, reference.size);
  assert.equal(set.size, 20_011);
  // Digests that differ only past byte 16 are the same fingerprint.
  const a = Buffer.alloc(32);
  const b = Buffer.alloc(32);
  b[31] = 1;
  assert.equal(set.add(a), true);
  assert.equal(set.add(b), false);
});
