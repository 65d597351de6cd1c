/**
 * Byte-level writers for the structured generators. Every writer takes the target buffer and a
 * position and returns the position after what it wrote: records are assembled directly in the
 * output chunk from pre-encoded ASCII tables and digit tables, with no intermediate strings
 * (string building and the final string → bytes copy cost 3–5× the generation itself, measured).
 * Positions are never checked here: the caller sizes the buffer for its longest record plus
 * MAX_OVERRUN and checks the record length afterwards (DataView throws on out-of-range writes,
 * typed arrays drop them: neither ever overruns the buffer).
 */

/** ASCII bytes of a string (the tables are ASCII only, so one byte per character). */
export function ascii(text: string): Uint8Array {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 127) throw new Error(`internal: non-ASCII table entry ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(Buffer.from(text, 'latin1'));
}

/** Bytes a ByteTable.put may write beyond its entry, at most (slots of up to 64 bytes). */
export const MAX_OVERRUN = 64;

export function putBytes(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  // A plain loop: the pieces are 1–20 bytes, where TypedArray.set costs more than it saves.
  const n = bytes.length;
  for (let i = 0; i < n; i++) buf[pos + i] = bytes[i] as number;
  return pos + n;
}

/**
 * A list of ASCII strings, picked by index and copied with a fixed number of 4-byte stores: every
 * entry sits in a slot as wide as the longest one. The copy always writes the whole slot (the bytes
 * after the entry are overwritten by what follows, or lie beyond the end of the output) and then
 * advances by the entry's length. A byte loop would stop at a random length for each random pick,
 * and that branch mispredicts: it measured 2–3× slower for word tables.
 * `prefix`/`suffix` are baked into every entry (e.g. a leading space before each word).
 */
export class ByteTable {
  readonly count: number;
  /** Slot width in 4-byte words. */
  private readonly words: number;
  private readonly slots: Int32Array;
  private readonly lengths: Int32Array;
  /** Bytes a put may write beyond the entry it copies. */
  readonly overrun: number;

  constructor(entries: readonly string[], prefix = '', suffix = '') {
    if (entries.length === 0) throw new Error('internal: empty ByteTable');
    this.count = entries.length;
    const encoded = entries.map((entry) => ascii(prefix + entry + suffix));
    const longest = Math.max(...encoded.map((bytes) => bytes.length));
    this.words = Math.max(1, Math.ceil(longest / 4));
    const slotBytes = Buffer.alloc(this.words * 4 * entries.length);
    this.lengths = Int32Array.from(encoded, (bytes) => bytes.length);
    encoded.forEach((bytes, i) => slotBytes.set(bytes, i * this.words * 4));
    this.slots = new Int32Array(this.words * entries.length);
    for (let i = 0; i < this.slots.length; i++) this.slots[i] = slotBytes.readInt32LE(i * 4);
    this.overrun = this.words * 4;
    if (this.overrun > MAX_OVERRUN) throw new Error(`internal: table entry of ${longest} bytes is longer than MAX_OVERRUN`);
  }

  /** Copy entry `index` to `pos` of the buffer behind `view`; returns the position after it. */
  put(view: DataView, pos: number, index: number): number {
    const words = this.words;
    const slots = this.slots;
    const first = index * words;
    for (let j = 0; j < words; j++) view.setInt32(pos + 4 * j, slots[first + j] as number, true);
    return pos + (this.lengths[index] as number);
  }
}

/** One fixed ASCII string, copied like a ByteTable entry. */
export function constant(text: string): ByteTable {
  return new ByteTable([text]);
}

/** LE int32 of the first four bytes of `text` (zero-padded): a table entry for one 4-byte store. */
function int32Of(text: string): number {
  const bytes = Buffer.alloc(4);
  bytes.write(text, 'latin1');
  return bytes.readInt32LE(0);
}

/** n < 10000 without padding ("7", "42", "9999"), and its length. */
const SMALL = Int32Array.from({ length: 10000 }, (_, n) => int32Of(String(n)));
const SMALL_LENGTH = Int8Array.from({ length: 10000 }, (_, n) => String(n).length);
/** n < 10000 zero-padded to four digits. */
const PADDED4 = Int32Array.from({ length: 10000 }, (_, n) => int32Of(String(n).padStart(4, '0')));
/** n < 100 zero-padded to two digits, as LE int16. */
const PADDED2 = Int16Array.from({ length: 100 }, (_, n) => int32Of(String(n).padStart(2, '0')));

/**
 * Decimal text of a non-negative safe integer: table lookups of four digits at a time, one store
 * each (up to 3 bytes of overrun). No per-digit loop. The common case (< 10000) is kept small so
 * that V8 inlines it into the record writers; longer numbers go to putLargeUint.
 */
export function putUint(view: DataView, pos: number, n: number): number {
  if (n >= 10000) return putLargeUint(view, pos, n);
  view.setInt32(pos, SMALL[n] as number, true);
  return pos + (SMALL_LENGTH[n] as number);
}

function putLargeUint(view: DataView, pos: number, n: number): number {
  if (n < 100000000) {
    const high = (n / 10000) | 0;
    view.setInt32(pos, SMALL[high] as number, true);
    pos += SMALL_LENGTH[high] as number;
    view.setInt32(pos, PADDED4[n - high * 10000] as number, true);
    return pos + 4;
  }
  const high = Math.floor(n / 100000000);
  const low = n - high * 100000000;
  pos = putUint(view, pos, high);
  const middle = (low / 10000) | 0;
  view.setInt32(pos, PADDED4[middle] as number, true);
  view.setInt32(pos + 4, PADDED4[low - middle * 10000] as number, true);
  return pos + 8;
}

/** Exactly two digits (0–99), zero-padded. */
export function put2(view: DataView, pos: number, n: number): number {
  view.setInt16(pos, PADDED2[n] as number, true);
  return pos + 2;
}

/** ".d", ".dd", ".ddd": the decimal point and zero-padded fraction, one store. */
const FRACTION1 = Int32Array.from({ length: 10 }, (_, n) => int32Of(`.${n}`));
const FRACTION2 = Int32Array.from({ length: 100 }, (_, n) => int32Of(`.${String(n).padStart(2, '0')}`));
const FRACTION3 = Int32Array.from({ length: 1000 }, (_, n) => int32Of(`.${String(n).padStart(3, '0')}`));

/**
 * '-' for negative values, written without a branch (random signs would mispredict half the time):
 * the byte is always stored and kept only when negative.
 */
function putSign(view: DataView, pos: number, value: number): number {
  view.setUint8(pos, 45);
  return pos + (value < 0 ? 1 : 0);
}

/** ⌊magnitude / scale⌋, in int32 arithmetic where it fits. */
function wholePart(magnitude: number, scale: number): number {
  return magnitude < 0x80000000 ? (magnitude / scale) | 0 : Math.floor(magnitude / scale);
}

/**
 * value / 10^decimals as fixed-point text without float noise, e.g. (-598994, 3) → "-598.994".
 * One small function per precision (constant divisor, small enough for V8 to inline).
 */
export function putFixed3(view: DataView, pos: number, value: number): number {
  pos = putSign(view, pos, value);
  const magnitude = Math.abs(value);
  const whole = wholePart(magnitude, 1000);
  pos = putUint(view, pos, whole);
  view.setInt32(pos, FRACTION3[magnitude - whole * 1000] as number, true);
  return pos + 4;
}

export function putFixed2(view: DataView, pos: number, value: number): number {
  pos = putSign(view, pos, value);
  const magnitude = Math.abs(value);
  const whole = wholePart(magnitude, 100);
  pos = putUint(view, pos, whole);
  view.setInt32(pos, FRACTION2[magnitude - whole * 100] as number, true);
  return pos + 3;
}

export function putFixed1(view: DataView, pos: number, value: number): number {
  pos = putSign(view, pos, value);
  const magnitude = Math.abs(value);
  const whole = wholePart(magnitude, 10);
  pos = putUint(view, pos, whole);
  view.setInt32(pos, FRACTION1[magnitude - whole * 10] as number, true);
  return pos + 2;
}

/** Two lowercase hex digits per byte value, as LE int16. */
const HEX_PAIRS = Int16Array.from({ length: 256 }, (_, n) => int32Of(n.toString(16).padStart(2, '0')));

/** 8 hex digits of a 32-bit value, most significant first. */
function putHex32(view: DataView, pos: number, x: number): number {
  view.setInt16(pos, HEX_PAIRS[x >>> 24] as number, true);
  view.setInt16(pos + 2, HEX_PAIRS[(x >>> 16) & 255] as number, true);
  view.setInt16(pos + 4, HEX_PAIRS[(x >>> 8) & 255] as number, true);
  view.setInt16(pos + 6, HEX_PAIRS[x & 255] as number, true);
  return pos + 8;
}

/** 4 hex digits of a 16-bit value. */
function putHex16(view: DataView, pos: number, x: number): number {
  view.setInt16(pos, HEX_PAIRS[(x >>> 8) & 255] as number, true);
  view.setInt16(pos + 2, HEX_PAIRS[x & 255] as number, true);
  return pos + 4;
}

const DASH = 45;

/**
 * RFC 9562 (ex 4122) version-4 UUID text from four random 32-bit words: version nibble 4,
 * variant bits 10. 36 bytes.
 */
export function putUuid(view: DataView, pos: number, a: number, b: number, c: number, d: number): number {
  pos = putHex32(view, pos, a);
  view.setUint8(pos++, DASH);
  pos = putHex16(view, pos, b >>> 16);
  view.setUint8(pos++, DASH);
  pos = putHex16(view, pos, (b & 0x0fff) | 0x4000);
  view.setUint8(pos++, DASH);
  pos = putHex16(view, pos, ((c >>> 16) & 0x3fff) | 0x8000);
  view.setUint8(pos++, DASH);
  pos = putHex16(view, pos, c & 0xffff);
  return putHex32(view, pos, d);
}

/** Seconds since 2020-01-01T00:00:00Z. */
export const EPOCH_2020 = 1577836800;
const DAYS_1970_TO_2020 = EPOCH_2020 / 86400;

/** `YYYY-MM-DD` of a day count since 1970-01-01 (Howard Hinnant's days→civil, proleptic Gregorian). */
export function civilDate(daysSince1970: number): string {
  const z = daysSince1970 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** "YYYY-MM-DDT" of the days 2020-01-01 … 2039-12-31 in 12-byte slots (three int32 stores). */
const DATE_TABLE_DAYS = 7305;
const DATES = (() => {
  const table = new Int32Array(DATE_TABLE_DAYS * 3);
  const slot = Buffer.alloc(12);
  for (let day = 0; day < DATE_TABLE_DAYS; day++) {
    slot.write(`${civilDate(DAYS_1970_TO_2020 + day)}T`, 'latin1');
    for (let j = 0; j < 3; j++) table[day * 3 + j] = slot.readInt32LE(j * 4);
  }
  return table;
})();

/**
 * ISO 8601 UTC timestamp `YYYY-MM-DDTHH:MM:SSZ` (20 bytes) of `seconds` ≥ 0 after 2020-01-01.
 * Dates up to 2039 come from a table, later ones are computed; no Date objects in the hot path.
 */
export function putIsoTimestamp(view: DataView, pos: number, seconds: number): number {
  const days = Math.floor(seconds / 86400);
  let rest = seconds - days * 86400;
  if (days < DATE_TABLE_DAYS) {
    view.setInt32(pos, DATES[days * 3] as number, true);
    view.setInt32(pos + 4, DATES[days * 3 + 1] as number, true);
    view.setInt32(pos + 8, DATES[days * 3 + 2] as number, true);
  } else {
    const text = `${civilDate(DAYS_1970_TO_2020 + days)}T`;
    for (let i = 0; i < 11; i++) view.setUint8(pos + i, text.charCodeAt(i));
  }
  pos += 11;
  const hour = (rest / 3600) | 0;
  rest -= hour * 3600;
  const minute = (rest / 60) | 0;
  view.setInt16(pos, PADDED2[hour] as number, true);
  view.setUint8(pos + 2, 58); // :
  view.setInt16(pos + 3, PADDED2[minute] as number, true);
  view.setUint8(pos + 5, 58);
  view.setInt16(pos + 6, PADDED2[rest - minute * 60] as number, true);
  view.setUint8(pos + 8, 90); // Z
  return pos + 9;
}
