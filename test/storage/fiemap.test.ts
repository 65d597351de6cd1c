import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFilefrag, unionBytes } from '../../src/storage/fiemap.js';

// Real `filefrag -v -e` output (XFS, 4 KiB blocks): a file, its reflink copy, a small file, a file with no extents.
const OUTPUT = `Filesystem type is: 58465342
File size of /m/a is 1048576 (256 blocks of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..     255:         24..       279:    256:             last,shared,eof
/m/a: 1 extent found
File size of /m/b: odd name is 1048576 (256 blocks of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..     127:         24..       151:    128:             shared
   1:      128..     255:       1000..      1127:    128:        152: last,eof
/m/b: odd name: 2 extents found
File size of /m/c d is 10000 (3 blocks of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..       2:         10..        12:      3:             last,eof
/m/c d: 1 extent found
File size of /m/sparse is 1048576 (256 blocks of 4096 bytes)
/m/sparse: 0 extents found
`;

test('filefrag output: physical byte ranges of every extent, in each file block size', () => {
  assert.deepEqual(parseFilefrag(OUTPUT), [
    [24 * 4096, 280 * 4096],
    [24 * 4096, 152 * 4096],
    [1000 * 4096, 1128 * 4096],
    [10 * 4096, 13 * 4096],
  ]);
  // The shared range counts once: 256 + 128 + 3 blocks.
  assert.equal(unionBytes(parseFilefrag(OUTPUT)), (256 + 128 + 3) * 4096);
  assert.throws(() => parseFilefrag(OUTPUT.replace('last,eof\n/m/c d', 'last,delalloc,eof\n/m/c d')), /without a physical location/);
});

test('union of physical ranges: repeats, overlaps, containment and gaps', () => {
  assert.equal(unionBytes([]), 0);
  assert.equal(unionBytes([[0, 10], [0, 10]]), 10);
  assert.equal(unionBytes([[20, 30], [0, 10], [5, 25]]), 30);
  assert.equal(unionBytes([[0, 100], [10, 20]]), 100);
  assert.equal(unionBytes([[0, 10], [10, 20], [30, 40]]), 30);
});
