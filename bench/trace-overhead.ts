/**
 * Trace overhead (SPEC §7: "the sampler … never slows the measured work measurably"; issue 6:
 * < 5% at 100 ms). Workload: the per-file insert stage of the real sqlite adapter — each file read
 * from disk, then one `insertOne` — as the runner does it. Runs alternate without and with the
 * tracer (sampler at 100 ms on the same adapter + trace.jsonl sink), in ABBA order so drift of the
 * machine hits both equally; the headline is the median of the per-pair duration ratios, which a
 * busy machine disturbs much less than a ratio of two separately taken medians.
 *
 * The same for the process's CPU time, which other load on the machine disturbs less than wall
 * time. A third, noise-free number: what one sampler tick costs the event loop (sampleMetrics + JSON +
 * the append to trace.jsonl), divided by the interval — the share of the stage's time the sampler
 * can take at most.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { BenchResult } from './run.js';
import { median } from '../src/report/stats.js';
import { loadSystem } from '../src/systems/registry.js';
import type { CellContext, LabFile, SystemAdapter } from '../src/systems/types.js';
import { startTrace } from '../src/trace/index.js';

const FILES = 2000; // ≈ 1 s per stage on a quiet machine: about ten samples at 100 ms
const FILE_SIZE = 8 * 1024;
const PAIRS = 10;
const TICK_PROBES = 200;
const INTERVAL_MS = 100;

/** Wall time and this process's CPU time (user + system) of one stage, in ms. */
interface StageTime {
  wallMs: number;
  cpuMs: number;
}

async function perFileInsert(adapter: SystemAdapter, cell: CellContext, dir: string, names: string[]): Promise<StageTime> {
  await adapter.resetLab(cell);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let id = 0; id < names.length; id++) {
    const content = await readFile(join(dir, names[id]!));
    const file: LabFile = {
      id,
      name: names[id]!,
      size: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      payloadType: 'random_binary',
      content,
    };
    await adapter.insertOne(file, cell);
  }
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

export async function bench(): Promise<BenchResult[]> {
  const work = mkdtempSync(join(tmpdir(), 'dedup-lab-bench-trace-'));
  const dataDir = join(work, 'files');
  const resultsDir = join(work, 'results');
  mkdirSync(dataDir);
  mkdirSync(resultsDir);
  const names: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const name = `${String(i).padStart(5, '0')}.bin`;
    writeFileSync(join(dataDir, name), randomBytes(FILE_SIZE));
    names.push(name);
  }
  const definition = await loadSystem('sqlite');
  const adapter = definition.create('sqlite', definition.parseOptions({ dataDir: join(work, 'sqlite') }), 'dedup_lab_bench');
  const cell: CellContext = {
    cellId: 'bench.trace.blob.random_binary.U0.r1',
    objectTag: 'benchtrace',
    variant: definition.variants[0]!,
    mode: 'blob',
    payloadType: 'random_binary',
    grade: 'U0',
    signal: new AbortController().signal,
  };
  const without: number[] = [];
  const withSampler: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  let samples = 0;
  let tickCostMs!: number; // set in the try block, which throws otherwise
  const traced = async () => {
    const tracer = await startTrace({ resultsDir, intervalMs: INTERVAL_MS, sinks: {} });
    tracer.watch(adapter);
    const duration = await perFileInsert(adapter, cell, dataDir, names);
    tracer.unwatch(adapter);
    await tracer.close();
    samples += tracer.stats().samples;
    return duration;
  };
  try {
    await adapter.connect();
    await perFileInsert(adapter, cell, dataDir, names); // warm-up: page cache, JIT, prepared statements
    for (let pair = 0; pair < PAIRS; pair++) {
      let off: StageTime;
      let on: StageTime;
      if (pair % 2 === 0) {
        off = await perFileInsert(adapter, cell, dataDir, names);
        on = await traced();
      } else {
        on = await traced();
        off = await perFileInsert(adapter, cell, dataDir, names);
      }
      without.push(off.wallMs);
      withSampler.push(on.wallMs);
      ratios.push(on.wallMs / off.wallMs);
      cpuRatios.push(on.cpuMs / off.cpuMs);
    }
    // The cost of one tick, measured directly: sample, serialise, append (as the file sink does).
    const tickFile = join(resultsDir, 'tick-cost.jsonl');
    const started = process.hrtime.bigint();
    for (let i = 0; i < TICK_PROBES; i++) {
      const metrics = await adapter.sampleMetrics();
      await appendFile(tickFile, `${JSON.stringify({ t: Date.now(), kind: 'sample', system: 'sqlite', instance: 'sqlite', metrics })}\n`);
    }
    tickCostMs = Number(process.hrtime.bigint() - started) / 1e6 / TICK_PROBES;
    await adapter.dropLab();
  } finally {
    await adapter.close();
    rmSync(work, { recursive: true, force: true });
  }
  const note = `${FILES} files × ${FILE_SIZE / 1024} KiB, ${PAIRS} ABBA pairs, ${samples} samples taken`;
  return [
    {
      name: `sqlite perfile_insert with sampler at ${INTERVAL_MS} ms (median)`,
      value: median(withSampler),
      unit: 'ms',
      reference: { name: 'without trace', value: median(without) },
      lowerIsBetter: true,
      note,
    },
    {
      name: 'stage duration ratio, sampler on / off',
      value: median(ratios),
      unit: 'x',
      target: 1.05,
      lowerIsBetter: true,
      note: `median of per-pair ratios; range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`,
    },
    {
      name: 'stage CPU time ratio, sampler on / off',
      value: median(cpuRatios),
      unit: 'x',
      target: 1.05,
      lowerIsBetter: true,
      note: `process user+system CPU, median of per-pair ratios; range ${Math.min(...cpuRatios).toFixed(2)}–${Math.max(...cpuRatios).toFixed(2)}`,
    },
    {
      name: `sampler tick cost / ${INTERVAL_MS} ms interval`,
      value: (tickCostMs / INTERVAL_MS) * 100,
      unit: '%',
      target: 5,
      lowerIsBetter: true,
      note: `one tick (sampleMetrics + JSON + append) ${(tickCostMs * 1000).toFixed(0)} µs`,
    },
  ];
}
