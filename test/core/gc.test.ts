import { it } from 'node:test';
import assert from 'node:assert/strict';
import { bufferCollector, minorCollector } from '../../src/core/gc.js';

const MiB = 1024 * 1024;

/** 64 MiB of ArrayBuffers whose wrappers survive two scavenges (old generation), then dropped. */
function oldGenerationBuffers(minor: () => void): void {
  const held = Array.from({ length: 64 }, () => new Uint8Array(MiB).fill(1));
  minor();
  minor();
  assert.equal(held.length, 64); // still in use after both scavenges; unreachable on return
}

it('a minor collection leaves buffers that reached the old generation; bufferCollector frees them', async () => {
  const minor = minorCollector();
  const collect = bufferCollector(16 * MiB);
  assert.ok(minor && collect, 'a collector can be had on this Node line');
  collect(); // start from whatever the process holds now
  const before = process.memoryUsage().arrayBuffers;

  oldGenerationBuffers(minor);
  minor();
  const afterMinor = process.memoryUsage().arrayBuffers;
  assert.ok(afterMinor - before >= 60 * MiB, `a scavenge freed old buffers: ${((afterMinor - before) / MiB).toFixed(0)} MiB left`);

  collect();
  // V8 sweeps freed ArrayBuffers in the background: the count drops a moment after the collection.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const afterCollect = process.memoryUsage().arrayBuffers;
  assert.ok(afterCollect - before < 4 * MiB, `${((afterCollect - before) / MiB).toFixed(0)} MiB still held`);
});

it('bufferCollector runs no full collection while live buffers stay below its limit', async () => {
  const collect = bufferCollector(512 * MiB);
  const minor = minorCollector();
  assert.ok(collect && minor);
  oldGenerationBuffers(minor);
  const before = process.memoryUsage().arrayBuffers;
  collect();
  await new Promise((resolve) => setTimeout(resolve, 200));
  // The dropped buffers are in the old generation: only a full collection would free them.
  assert.ok(before - process.memoryUsage().arrayBuffers < 8 * MiB, 'a full collection ran below the limit');
  bufferCollector(0)?.();
});
