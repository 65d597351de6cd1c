/**
 * SPEC §10: peak RSS below 256 MiB whatever the data size. The runner streams files (one at a
 * time per-file, an async iterable for bulk), so 192 MiB of 8 MiB files through sqlite must not
 * raise the process's high-water mark (VmHWM, polled from /proc while it runs) past the limit.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { highWaterKiB, runCli, tempDir } from './helpers.js';

it('peak RSS stays below 256 MiB while 192 MiB of 8 MiB files go through every stage', async () => {
  const dir = tempDir('memory');
  let peakKiB = 0;
  let timer: NodeJS.Timeout | undefined;
  const result = await runCli(
    ['run', '--systems', 'sqlite', '--payload-types', 'random_binary', '--grades', 'U50', '--files', '24', '--file-size', '8MiB', '--results-dir', join(dir, 'r'), '--data-dir', join(dir, 'd')],
    {
      cwd: dir,
      onStderr: (_text, child) => {
        timer ??= setInterval(() => {
          const kib = child.pid ? highWaterKiB(child.pid) : null;
          if (kib !== null) peakKiB = Math.max(peakKiB, kib);
        }, 50);
      },
    },
  );
  clearInterval(timer);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(peakKiB > 0, 'VmHWM was read');
  assert.ok(peakKiB < 256 * 1024, `peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`);
  process.stderr.write(`run peak RSS: ${(peakKiB / 1024).toFixed(0)} MiB\n`);
});
