import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceStatFile, ioTicks } from '../../bench/storage.js';

test('the bench finds the block device under a folder and reads its busy time; none under tmpfs', () => {
  // /proc/self/mountinfo's major:minor of the file system under the folder (what stat's st_dev is).
  const dir = mkdtempSync(join(process.cwd(), '.bench-device-'));
  try {
    const file = deviceStatFile(dir);
    const majorMinor = execFileSync('stat', ['-c', '%Hd:%Ld', dir], { encoding: 'utf8' }).trim();
    assert.equal(file, `/sys/dev/block/${majorMinor}/stat`);
    // Direct reads of a file there advance the device's io_ticks. It counts whole jiffies (1–10 ms)
    // with I/O in flight, so one short read may add nothing: read 64 MiB, up to five times.
    const data = join(dir, 'data');
    writeFileSync(data, Buffer.alloc(64 << 20, 1));
    execFileSync('sync');
    const before = ioTicks(file as string);
    let after = before;
    for (let attempt = 0; attempt < 5 && after === before; attempt++) {
      execFileSync('dd', [`if=${data}`, 'of=/dev/null', 'bs=1M', 'iflag=direct', 'status=none']);
      after = ioTicks(file as string);
    }
    assert.ok(after > before, `io_ticks of ${file} grew: ${before} → ${after}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const shm = mkdtempSync(join('/dev/shm', 'bench-device-'));
  try {
    assert.equal(deviceStatFile(shm), null, 'tmpfs has no block device');
  } finally {
    rmSync(shm, { recursive: true, force: true });
  }
});
