/** How a compressing block store charges one stored block (ZFS's rules, ashift=12). */
export const SECTOR_BYTES = 4096;

export function roundUpToSector(bytes: number, sector = SECTOR_BYTES): number {
  return Math.ceil(bytes / sector) * sector;
}

/** ZFS's lz4 writes the LZ4 block's length (4 bytes, big-endian) before it (lz4_compress_zfs). */
export const ZFS_LZ4_HEADER_BYTES = 4;

/**
 * ZFS keeps a compressed block (the bare LZ4 block of `lz4Bytes` plus its 4-byte header) only when
 * that saves at least 1/8 of the block; either way the allocation is whole sectors.
 */
export function storedBlockBytes(blockBytes: number, lz4Bytes: number, sector = SECTOR_BYTES): number {
  const compressed = lz4Bytes + ZFS_LZ4_HEADER_BYTES;
  const kept = compressed <= blockBytes - blockBytes / 8 ? compressed : blockBytes;
  return roundUpToSector(kept, sector);
}
