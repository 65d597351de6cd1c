/**
 * A set of 128-bit fingerprints in one typed array (open addressing, linear probing): 16 bytes
 * per slot, at most half full, instead of ~90 bytes per entry for a Set of strings. The
 * fingerprints are 128-bit hash digests (src/storage/blockhash.ts), so their first word is
 * already uniformly distributed and serves as the hash.
 */
export class FingerprintSet {
  private slots: Uint32Array;
  private mask: number;
  size = 0;

  constructor(initialSlots = 1 << 12) {
    this.slots = new Uint32Array(initialSlots * 4);
    this.mask = initialSlots - 1;
  }

  /** Adds the first 16 bytes of `digest`; true when they were not in the set yet. */
  add(digest: Uint8Array): boolean {
    const view = new DataView(digest.buffer, digest.byteOffset, 16);
    return this.addWords(Uint32Array.of(view.getUint32(0, true), view.getUint32(4, true), view.getUint32(8, true), view.getUint32(12, true)), 0);
  }

  /** Adds the digest held as four 32-bit words at `words[at]`: no view per digest. */
  addWords(words: Uint32Array, at: number): boolean {
    // Word 3 gets bit 0 set so that an all-zero slot always means "empty".
    const a = words[at] as number;
    const b = words[at + 1] as number;
    const c = words[at + 2] as number;
    const d = ((words[at + 3] as number) | 1) >>> 0;
    if (this.insert(a, b, c, d)) {
      this.size++;
      if (this.size * 2 > this.mask + 1) this.grow();
      return true;
    }
    return false;
  }

  private insert(a: number, b: number, c: number, d: number): boolean {
    const slots = this.slots;
    for (let index = a & this.mask; ; index = (index + 1) & this.mask) {
      const at = index * 4;
      if (slots[at + 3] === 0) {
        slots[at] = a;
        slots[at + 1] = b;
        slots[at + 2] = c;
        slots[at + 3] = d;
        return true;
      }
      if (slots[at] === a && slots[at + 1] === b && slots[at + 2] === c && slots[at + 3] === d) return false;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.mask = this.slots.length / 4 - 1;
    for (let at = 0; at < old.length; at += 4) {
      if (old[at + 3] !== 0) this.insert(old[at] as number, old[at + 1] as number, old[at + 2] as number, old[at + 3] as number);
    }
  }
}
