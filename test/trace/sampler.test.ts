import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrace } from '../../src/trace/index.js';
import { finiteMetrics, Sampler } from '../../src/trace/sampler.js';
import { QueuedSink } from '../../src/trace/queue.js';
import type { TraceEvent } from '../../src/experiment/record.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { makeCell, makeLabFiles } from '../systems/fixtures.js';
import { readTrace, sqliteAdapter, tempDir } from './helpers.js';

test('samples of a real sqlite adapter and stage events share one time axis in trace.jsonl', async () => {
  const dir = tempDir('trace');
  const adapter = await sqliteAdapter();
  const tracer = await startTrace({ resultsDir: dir, intervalMs: 100, sinks: {} });
  const cell = makeCell({ variant: 'default', mode: 'blob' });
  const files = makeLabFiles({ count: 40, size: 32 * 1024 });
  tracer.watch(adapter);
  const started = Date.now();
  tracer.stage({ kind: 'stage_start', system: 'sqlite', instance: 'sqlite', cellId: cell.cellId, stage: 'perfile_insert' });
  // Long enough for several ticks: one insert at a time, as the per-file stage does. sqlite is
  // synchronous, so the runner's file reads are what let timers run between operations; a
  // setImmediate stands in for that read here.
  let nextId = 0;
  while (Date.now() - started < 650) {
    const file = files[nextId % files.length]!;
    await adapter.insertOne({ ...file, id: nextId++ }, cell);
    await new Promise((resolve) => setImmediate(resolve));
  }
  tracer.stage({ kind: 'stage_end', system: 'sqlite', instance: 'sqlite', cellId: cell.cellId, stage: 'perfile_insert', ok: true });
  tracer.unwatch(adapter);
  await tracer.close();
  await adapter.close();

  const events = readTrace(dir);
  const samples = events.filter((e) => e.kind === 'sample');
  const stageEvents = events.filter((e) => e.kind !== 'sample');
  assert.deepEqual(stageEvents.map((e) => e.kind), ['stage_start', 'stage_end']);
  // 650 ms at 100 ms: 5–7 ticks (timers may fire a little late on a busy machine).
  assert.ok(samples.length >= 4 && samples.length <= 8, `samples: ${samples.length}`);
  for (const sample of samples) {
    assert.equal(sample.system, 'sqlite');
    assert.equal(typeof sample.metrics.internalBytes, 'number');
  }
  // The database grows while files go in.
  const sizes = samples.map((s) => (s.kind === 'sample' ? s.metrics.internalBytes! : 0));
  assert.ok(sizes[sizes.length - 1]! > sizes[0]!, `sizes ${sizes.join(',')}`);
  // One axis: samples fall between the stage events (epoch ms), in order.
  const [start, end] = stageEvents.map((e) => e.t) as [number, number];
  for (const sample of samples) assert.ok(sample.t >= start - 1 && sample.t <= end, `${sample.t} outside [${start}, ${end}]`);
  const times = events.map((e) => e.t);
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  assert.deepEqual(tracer.stats().sinks.map((s) => [s.name, s.dropped, s.failed]), [['file', 0, 0]]);
});

/** An adapter-shaped source whose sample takes `delayMs`: the test double of a slow metric read. */
function slowSource(delayMs: number): SystemAdapter & { calls: number; concurrent: number; maxConcurrent: number } {
  const source = {
    id: 'slow',
    instance: 'slow-1',
    calls: 0,
    concurrent: 0,
    maxConcurrent: 0,
    async sampleMetrics() {
      source.calls += 1;
      source.concurrent += 1;
      source.maxConcurrent = Math.max(source.maxConcurrent, source.concurrent);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      source.concurrent -= 1;
      return { queue_bytes: source.calls, label: 'not a number' } as unknown as Record<string, number>;
    },
  };
  return source as unknown as SystemAdapter & typeof source;
}

test('a sample still running makes the next ticks skip instead of overlapping', async () => {
  const source = slowSource(250);
  const seen: number[] = [];
  const sampler = new Sampler({ intervalMs: 100, onSample: ({ t }) => seen.push(t), onError: (_, message) => assert.fail(message) });
  sampler.watch(source);
  await new Promise((resolve) => setTimeout(resolve, 1_050));
  await sampler.stop();
  assert.equal(source.maxConcurrent, 1);
  // ~10 ticks, each sample spans ~3 of them: about 3–4 samples, the other ticks skipped.
  assert.ok(source.calls >= 2 && source.calls <= 5, `calls ${source.calls}`);
  assert.ok(sampler.skippedTicks >= 4, `skipped ${sampler.skippedTicks}`);
  // stop() drops a sample that was still running when it was called.
  assert.ok(seen.length >= source.calls - 1 && seen.length <= source.calls, `${seen.length} of ${source.calls}`);
});

test('intervals below 100 ms are refused; non-numeric metrics are left out', () => {
  assert.throws(() => new Sampler({ intervalMs: 50, onSample() {}, onError() {} }), /below the minimum of 100 ms/);
  assert.deepEqual(finiteMetrics({ a: 1, b: Number.NaN, c: 'x', d: 2n, e: Infinity }), { a: 1, d: 2 });
});

test('a failing sink never throws into the run, drops the oldest events when full, and reports once', async () => {
  const errors: string[] = [];
  let release: () => void = () => {};
  const blocked = new Promise<void>((resolve) => (release = resolve));
  let sends = 0;
  const sink = new QueuedSink(
    {
      name: 'broken',
      send: async () => {
        sends += 1;
        await blocked;
        throw new Error('connection refused');
      },
    },
    { capacity: 5, maxBatch: 2, onError: (message) => errors.push(message) },
  );
  const event = (t: number): TraceEvent => ({ t, kind: 'sample', system: 's', instance: 'i', metrics: { x: t } });
  sink.push(event(0));
  await new Promise((resolve) => setImmediate(resolve)); // the first batch is now in flight
  for (let t = 1; t <= 12; t++) sink.push(event(t)); // returns at once although the sink hangs
  assert.equal(sink.dropped, 7);
  release();
  await sink.close();
  assert.equal(sink.failed, 6); // the in-flight event and the 5 kept ones
  assert.equal(sends, 4);
  assert.deepEqual(errors, ['trace sink broken: connection refused']);
});
