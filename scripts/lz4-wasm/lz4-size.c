/*
 * The reference LZ4 block compressor (lz4.c, Yann Collet, BSD-2-Clause; fetched at a pinned
 * version by scripts/build-lz4-wasm.sh, not committed) built freestanding for WebAssembly, with
 * two entry points for src/storage/lz4.ts: the address of the input buffer, and the size of
 * LZ4_compress_default's output for its first `length` bytes. Only the size is used, so the output
 * goes to one static buffer; nothing is allocated, nothing is returned to the caller but a number.
 */
#define LZ4_FREESTANDING 1
#define LZ4_memcpy(dst, src, size) __builtin_memcpy(dst, src, size)
#define LZ4_memmove(dst, src, size) __builtin_memmove(dst, src, size)
#define LZ4_memset(p, v, size) __builtin_memset(p, v, size)
/*
 * lz4.c picks 64-bit registers (reg_t) only for __x86_64__, its "x32 mode" (64-bit registers,
 * 32-bit pointers) — which is what wasm32 is. Without them it hashes 4 bytes instead of 5 and its
 * output differs from a 64-bit build's (0.3 % on text); with them it matches the 64-bit native
 * library byte count for byte count (test/storage/lz4.test.ts). The macro reaches nothing else but
 * the decoder's loop choice, which is unused here and set explicitly.
 */
#define __x86_64__ 1
#define LZ4_FAST_DEC_LOOP 0
#include "lz4.c"

/* The largest block the simulation compresses is 128 KiB; twice that leaves room. */
#define INPUT_BYTES (256 * 1024)

static char input[INPUT_BYTES];
static char output[LZ4_COMPRESSBOUND(INPUT_BYTES)];

__attribute__((export_name("input"))) char *input_address(void) { return input; }

__attribute__((export_name("capacity"))) int input_capacity(void) { return INPUT_BYTES; }

/* LZ4_compress_default (acceleration 1, as ZFS's lz4) of input[0, length): its output size in bytes. */
__attribute__((export_name("compressedSize"))) int compressed_size(int length) {
  if (length < 0 || length > INPUT_BYTES) return -1;
  return LZ4_compress_default(input, output, length, (int)sizeof output);
}

/* For the tests: 1 when input[0, length) compresses and decompresses (LZ4_decompress_safe) back to itself. */
static char decompressed[INPUT_BYTES];
__attribute__((export_name("roundTrips"))) int round_trips(int length) {
  int compressed = compressed_size(length);
  if (compressed <= 0) return 0;
  if (LZ4_decompress_safe(output, decompressed, compressed, INPUT_BYTES) != length) return 0;
  for (int i = 0; i < length; i++) {
    if (decompressed[i] != input[i]) return 0;
  }
  return 1;
}
