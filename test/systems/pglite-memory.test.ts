/**
 * SPEC §10 with PGlite in the run: the dedup-lab process stays below 256 MiB peak RSS because
 * PGlite's WASM PostgreSQL lives in its own host process beside it, which stays below 256 MiB
 * too (211 MiB here on 2026-12-03; 515 MiB before bytea crossed in binary format with
 * shared_buffers=16MB). Both numbers are measured: the tool's VmHWM polled from /proc while the
 * real CLI runs, the host's from the trace (`pgliteHostPeakRssBytes`). The host must be gone once
 * the run is over.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../experiment/helpers.js';
import { processMemory } from '../../src/systems/pglite.js';

const LIMIT_KIB = 256 * 1024;

/** Direct children of a process (Linux: /proc/<pid>/task/<tid>/children). */
function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

it('with pglite in the run, the dedup-lab process peaks below 256 MiB; PGlite runs in a host process that exits afterwards', async () => {
  const dir = tempDir('pglite-memory');
  let toolPeakKiB = 0;
  const children = new Set<number>();
  let timer: NodeJS.Timeout | undefined;
  const result = await runCli(
    ['run', '--systems', 'pglite', '--payload-types', 'random_binary', '--grades', 'U50', '--files', '40', '--file-size', '256KiB', '--results-dir', join(dir, 'r'), '--data-dir', join(dir, 'd'), '--trace-interval', '200'],
    {
      cwd: dir,
      onStderr: (_text, child) => {
        timer ??= setInterval(() => {
          if (!child.pid) return;
          const memory = processMemory(child.pid);
          if (memory) toolPeakKiB = Math.max(toolPeakKiB, memory.peakRssBytes / 1024);
          for (const pid of childPids(child.pid)) children.add(pid);
        }, 50);
      },
    },
  );
  clearInterval(timer);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(toolPeakKiB > 0, 'VmHWM of the dedup-lab process was read');
  assert.ok(toolPeakKiB < LIMIT_KIB, `dedup-lab peak RSS ${(toolPeakKiB / 1024).toFixed(0)} MiB`);

  const samples = readFileSync(join(dir, 'r', 'trace.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { kind: string; metrics?: Record<string, number> });
  const hostPeaks = samples.flatMap((event) => (event.kind === 'sample' && event.metrics?.pgliteHostPeakRssBytes ? [event.metrics.pgliteHostPeakRssBytes] : []));
  assert.ok(hostPeaks.length > 0, 'the trace carries the PGlite host memory');
  const hostPeakMiB = Math.max(...hostPeaks) / 2 ** 20;
  // The engine's memory is where PGlite is: far above what the tool itself holds.
  assert.ok(hostPeakMiB * 1024 > toolPeakKiB, `host ${hostPeakMiB.toFixed(0)} MiB vs tool ${(toolPeakKiB / 1024).toFixed(0)} MiB`);
  assert.ok(hostPeakMiB < 256, `PGlite host peak RSS ${hostPeakMiB.toFixed(0)} MiB`);

  assert.ok(children.size > 0, 'the PGlite host ran as a child of dedup-lab');
  for (const pid of children) assert.ok(!existsSync(`/proc/${pid}`) || /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')), `child ${pid} still running after the run`);
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`dedup-lab peak RSS ${(toolPeakKiB / 1024).toFixed(0)} MiB; PGlite host peak RSS ${hostPeakMiB.toFixed(0)} MiB\n`);
});
