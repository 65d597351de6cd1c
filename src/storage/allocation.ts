/** How a compressing block store charges one stored block (ZFS's rules, ashift=12). */
export const SECTOR_BYTES = 4096;

export function roundUpToSector(bytes: number, sector = SECTOR_BYTES): number {
  return Math.ceil(bytes / sector) * sector;
}

/**
 * ZFS keeps a compressed block only when compression saves at least 1/8 of it; either way the
 * allocation is whole sectors.
 */
export function storedBlockBytes(blockBytes: number, compressedBytes: number, sector = SECTOR_BYTES): number {
  const kept = compressedBytes <= blockBytes - blockBytes / 8 ? compressedBytes : blockBytes;
  return roundUpToSector(kept, sector);
}
