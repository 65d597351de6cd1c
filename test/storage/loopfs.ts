/**
 * A real file system on a loop image for a test (root and loop devices needed, as in CI): the same
 * layers scripts/services/storage.sh makes, mounted in a temp folder and removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type TestLayer = 'ext4' | 'btrfs-dedup' | 'btrfs-zstd' | 'xfs-dedup';

function mkfs(layer: TestLayer, image: string): void {
  if (layer === 'ext4') execFileSync('mkfs.ext4', ['-q', '-F', image]);
  else if (layer === 'xfs-dedup') execFileSync('mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', image]);
  else execFileSync('mkfs.btrfs', ['-q', '-f', image], { stdio: 'ignore' });
}

export async function withLoopFs<T>(layer: TestLayer, fn: (mountPoint: string) => Promise<T>, size = '1G'): Promise<T> {
  const root = mkdtempSync(join(tmpdir(), `dedup-lab-${layer}-`));
  const image = join(root, 'fs.img');
  const mountPoint = join(root, 'mnt');
  mkdirSync(mountPoint);
  execFileSync('truncate', ['-s', size, image]);
  mkfs(layer, image);
  execFileSync('mount', ['-o', layer === 'btrfs-zstd' ? 'loop,compress=zstd' : 'loop', image, mountPoint]);
  try {
    return await fn(mountPoint);
  } finally {
    execFileSync('umount', [mountPoint]);
    rmSync(root, { recursive: true, force: true });
  }
}
