import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountOf, parseMountInfo } from '../../src/storage/mounts.js';
import { parseBtrfsDu, storageMethodFor } from '../../src/measure/probes/storage.js';

const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '40 22 7:0 / /var/lib/dedup-lab-services/.storage/mnt/postgresql-btrfs-dedup rw,noatime shared:20 - btrfs /dev/loop0 rw,space_cache=v2',
  '41 22 7:0 /data /var/lib/dedup-lab-services/postgresql/data rw,noatime shared:20 - btrfs /dev/loop0 rw,space_cache=v2',
  '42 22 0:50 / /mnt/with\\040space rw - tmpfs tmpfs rw',
].join('\n');

test('mountinfo: longest mount point wins, bind mounts keep the device, octal escapes decoded', () => {
  const mounts = parseMountInfo(MOUNTINFO);
  assert.equal(mounts.length, 4);
  assert.equal(mounts[3]?.mountPoint, '/mnt/with space');
  assert.equal(mounts[1]?.device, mounts[2]?.device);
  // mountOf resolves real paths: / always exists, so test the fallback to the root mount.
  assert.equal(mountOf('/definitely/not/here', mounts)?.fsType, 'ext4');
});

test('the probe reads statfs on an own mount, btrfs du on shared btrfs, FIEMAP on shared XFS, st_blocks elsewhere', () => {
  const [root, whole, bind] = parseMountInfo(MOUNTINFO);
  assert.equal(storageMethodFor('/', root ?? null), 'st_blocks');
  assert.equal(storageMethodFor('/tmp', { ...(whole as NonNullable<typeof whole>), mountPoint: '/' }), 'btrfs-du');
  assert.equal(storageMethodFor('/tmp', { ...(whole as NonNullable<typeof whole>), mountPoint: '/', fsType: 'xfs' }), 'fiemap');
  assert.equal(storageMethodFor('/tmp', { ...(bind as NonNullable<typeof bind>), fsType: 'zfs' }), 'zfs-unavailable');
});

test('btrfs filesystem du --raw: exclusive + set shared', () => {
  const output = '     Total   Exclusive  Set shared  Filename\n 104857600    10485760    10485760  /srv/data\n';
  assert.equal(parseBtrfsDu(output), 20971520);
  assert.throws(() => parseBtrfsDu('garbage'), /unexpected btrfs filesystem du output/);
});
