/**
 * Which file system holds a path, from /proc/self/mountinfo (longest mount-point prefix wins).
 * A path that is itself a mount point (a loop image or a bind mount of one, as
 * scripts/services/storage.sh makes them) has a file system of its own.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface MountInfo {
  mountPoint: string;
  fsType: string;
  source: string;
  /** The major:minor of the device: bind mounts of one file system share it. */
  device: string;
  options: string;
}

/** Mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMountInfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [fsType, source, superOptions] = right.split(' ');
    if (fields.length < 6 || !fsType) continue;
    mounts.push({ mountPoint: unescape(fields[4] as string), device: fields[2] as string, fsType, source: unescape(source ?? ''), options: `${fields[5]},${superOptions ?? ''}` });
  }
  return mounts;
}

/** realpath of `path`, or of its nearest existing ancestor (a data file may not exist yet). */
function realExisting(path: string): string {
  for (let current = resolve(path); ; current = dirname(current)) {
    if (existsSync(current)) return realpathSync(current);
    if (dirname(current) === current) return current;
  }
}

export function mountOf(path: string, mounts: MountInfo[] = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))): MountInfo | null {
  const real = realExisting(path);
  let best: MountInfo | null = null;
  for (const mount of mounts) {
    const inside = real === mount.mountPoint || real.startsWith(mount.mountPoint.endsWith('/') ? mount.mountPoint : `${mount.mountPoint}/`);
    // Later lines are mounted over earlier ones at the same point: >= keeps the last.
    if (inside && (!best || mount.mountPoint.length >= best.mountPoint.length)) best = mount;
  }
  return best;
}

export function hasOwnFileSystem(path: string, mount: MountInfo | null): boolean {
  return mount !== null && existsSync(path) && mount.mountPoint === realpathSync(path) && mount.mountPoint !== '/';
}

/** ZFS is measurable only where its kernel module is loaded. */
export function zfsAvailable(): boolean {
  return existsSync('/sys/module/zfs');
}
