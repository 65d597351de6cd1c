;; Block digests for the dedup simulation (src/storage/blockhash.ts), in WebAssembly: every 4 KiB
;; block digest of a read, every hash tree node above it and every chunk digest, in a handful of
;; calls per read instead of one sha256 call per block. A digest ($digest) is XXH3_128bits
;; (xxHash 0.8, Yann Collet; its long path, with SIMD, default secret) of inputs over 240 bytes, and
;; MurmurHash3_x64_128 (Austin Appleby, SMHasher's MurmurHash3.cpp), seed 0, of shorter ones: both
;; 128-bit, both written as two little-endian 64-bit words (XXH3: low64 then high64; Murmur: h1
;; then h2). Compiled by `npm run build:wasm` into blockhash-wasm.ts; tests check the committed
;; bytes, SMHasher's verification value and the reference's XXH3 digests (Python xxhash).
;;
;; The module also holds the FastCDC cut-point scan (the loop of src/dataset/gearcut.wat, over
;; absolute addresses), so that one call cuts and digests every chunk of a read where it landed:
;; the scanner and the hasher share one memory and the data is never copied between them.
;;
;; The memory is imported: the caller makes it (src/storage/blockhash.ts), shared between the
;; main thread and the CDC worker (src/storage/cdc-thread.ts); scripts/build-wasm.ts compiles it
;; with wabt's threads feature, which a shared memory needs.
(module
  (import "env" "memory" (memory 1 65536 shared))

  (func $fmix64 (param $k i64) (result i64)
    (local.set $k (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 33))))
    (local.set $k (i64.mul (local.get $k) (i64.const 0xff51afd7ed558ccd)))
    (local.set $k (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 33))))
    (local.set $k (i64.mul (local.get $k) (i64.const 0xc4ceb9fe1a85ec53)))
    (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 33))))

  ;; k1 *= c1; k1 = rotl(k1, 31); k1 *= c2
  (func $mixK1 (param $k i64) (result i64)
    (i64.mul (i64.rotl (i64.mul (local.get $k) (i64.const 0x87c37b91114253d5)) (i64.const 31)) (i64.const 0x4cf5ad432745937f)))

  ;; k2 *= c2; k2 = rotl(k2, 33); k2 *= c1
  (func $mixK2 (param $k i64) (result i64)
    (i64.mul (i64.rotl (i64.mul (local.get $k) (i64.const 0x4cf5ad432745937f)) (i64.const 33)) (i64.const 0x87c37b91114253d5)))

  ;; MurmurHash3_x64_128(memory[p, p+len), seed) -> 16 bytes at out.
  (func $mm3 (param $p i32) (param $len i32) (param $seed i64) (param $out i32)
    (call $mm3from (local.get $p) (local.get $len) (local.get $seed) (local.get $seed) (i32.const 0) (local.get $out)))

  ;; MurmurHash3_x64_128 of memory[p, p+len) continued from the state (h1, h2) after its first
  ;; `done` bytes (a multiple of 16): the rest of the body, the tail and the finalization.
  (func $mm3from (param $p i32) (param $len i32) (param $h1 i64) (param $h2 i64) (param $done i32) (param $out i32)
    (local $k1 i64) (local $k2 i64) (local $end i32) (local $i i32)
    (local.set $end (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -16))))
    (local.set $p (i32.add (local.get $p) (local.get $done)))
    (block $body_done
      (loop $body
        (br_if $body_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h1 (i64.xor (local.get $h1) (call $mixK1 (i64.load (local.get $p)))))
        (local.set $h1 (i64.add (i64.rotl (local.get $h1) (i64.const 27)) (local.get $h2)))
        (local.set $h1 (i64.add (i64.mul (local.get $h1) (i64.const 5)) (i64.const 0x52dce729)))
        (local.set $h2 (i64.xor (local.get $h2) (call $mixK2 (i64.load offset=8 (local.get $p)))))
        (local.set $h2 (i64.add (i64.rotl (local.get $h2) (i64.const 31)) (local.get $h1)))
        (local.set $h2 (i64.add (i64.mul (local.get $h2) (i64.const 5)) (i64.const 0x38495ab5)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $body)))
    ;; Tail (len % 16 bytes): bytes 8.. into k2, bytes 0..7 into k1, little-endian, as the
    ;; reference's fall-through switch assembles them.
    (local.set $i (i32.and (local.get $len) (i32.const 15)))
    (block $k2_done
      (loop $k2_loop
        (br_if $k2_done (i32.le_u (local.get $i) (i32.const 8)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (local.set $k2 (i64.or (i64.shl (local.get $k2) (i64.const 8))
                               (i64.load8_u (i32.add (local.get $p) (local.get $i)))))
        (br $k2_loop)))
    (block $k1_done
      (loop $k1_loop
        (br_if $k1_done (i32.eqz (local.get $i)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (local.set $k1 (i64.or (i64.shl (local.get $k1) (i64.const 8))
                               (i64.load8_u (i32.add (local.get $p) (local.get $i)))))
        (br $k1_loop)))
    (if (i32.gt_u (i32.and (local.get $len) (i32.const 15)) (i32.const 8))
      (then (local.set $h2 (i64.xor (local.get $h2) (call $mixK2 (local.get $k2))))))
    (if (i32.and (local.get $len) (i32.const 15))
      (then (local.set $h1 (i64.xor (local.get $h1) (call $mixK1 (local.get $k1))))))
    ;; Finalization.
    (local.set $h1 (i64.xor (local.get $h1) (i64.extend_i32_u (local.get $len))))
    (local.set $h2 (i64.xor (local.get $h2) (i64.extend_i32_u (local.get $len))))
    (local.set $h1 (i64.add (local.get $h1) (local.get $h2)))
    (local.set $h2 (i64.add (local.get $h2) (local.get $h1)))
    (local.set $h1 (call $fmix64 (local.get $h1)))
    (local.set $h2 (call $fmix64 (local.get $h2)))
    (local.set $h1 (i64.add (local.get $h1) (local.get $h2)))
    (local.set $h2 (i64.add (local.get $h2) (local.get $h1)))
    (i64.store (local.get $out) (local.get $h1))
    (i64.store offset=8 (local.get $out) (local.get $h2)))

  ;; XXH3 (xxHash 0.8's XXH3_hashLong_128b with the default secret). The secret's 192 bytes sit at
  ;; SECRET_AT = 67584 (blockhash.ts writes them); the eight 64-bit accumulators are four i64x2.

  ;; One 16-byte part of a stripe: acc[i ^ 1] += data[i]; acc[i] += lo32(data[i] ^ key[i]) * hi32(...).
  (func $xxlane (param $acc v128) (param $p i32) (param $s i32) (result v128)
    (local $d v128) (local $k v128)
    (local.set $d (v128.load (local.get $p)))
    (local.set $k (v128.xor (local.get $d) (v128.load (local.get $s))))
    (i64x2.add
      (i64x2.add (local.get $acc) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)))
      (i64x2.extmul_low_i32x4_u
        (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.get $k) (local.get $k))
        (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k)))))

  ;; acc ^= acc >> 47; acc ^= key; acc *= PRIME32_1
  (func $xxscramble (param $acc v128) (param $s i32) (result v128)
    (i64x2.mul
      (v128.xor (v128.xor (local.get $acc) (i64x2.shr_u (local.get $acc) (i32.const 47))) (v128.load (local.get $s)))
      (v128.const i64x2 0x9E3779B1 0x9E3779B1)))

  ;; The 128-bit product of a and b, its two halves xored (XXH3_mul128_fold64).
  (func $xxfold (param $a i64) (param $b i64) (result i64)
    (local $lolo i64) (local $hilo i64) (local $cross i64)
    (local.set $lolo (i64.mul (i64.and (local.get $a) (i64.const 0xFFFFFFFF)) (i64.and (local.get $b) (i64.const 0xFFFFFFFF))))
    (local.set $hilo (i64.mul (i64.shr_u (local.get $a) (i64.const 32)) (i64.and (local.get $b) (i64.const 0xFFFFFFFF))))
    (local.set $cross (i64.add (i64.add (i64.shr_u (local.get $lolo) (i64.const 32)) (i64.and (local.get $hilo) (i64.const 0xFFFFFFFF)))
                               (i64.mul (i64.and (local.get $a) (i64.const 0xFFFFFFFF)) (i64.shr_u (local.get $b) (i64.const 32)))))
    (i64.xor
      (i64.or (i64.shl (local.get $cross) (i64.const 32)) (i64.and (local.get $lolo) (i64.const 0xFFFFFFFF)))
      (i64.add (i64.add (i64.shr_u (local.get $hilo) (i64.const 32)) (i64.shr_u (local.get $cross) (i64.const 32)))
               (i64.mul (i64.shr_u (local.get $a) (i64.const 32)) (i64.shr_u (local.get $b) (i64.const 32))))))

  ;; XXH3_mergeAccs: start + the four folded accumulator pairs keyed by the secret at s, avalanched.
  (func $xxmerge (param $a0 v128) (param $a1 v128) (param $a2 v128) (param $a3 v128) (param $s i32) (param $h i64) (result i64)
    (local $x v128)
    (local.set $x (v128.xor (local.get $a0) (v128.load (local.get $s))))
    (local.set $h (i64.add (local.get $h) (call $xxfold (i64x2.extract_lane 0 (local.get $x)) (i64x2.extract_lane 1 (local.get $x)))))
    (local.set $x (v128.xor (local.get $a1) (v128.load offset=16 (local.get $s))))
    (local.set $h (i64.add (local.get $h) (call $xxfold (i64x2.extract_lane 0 (local.get $x)) (i64x2.extract_lane 1 (local.get $x)))))
    (local.set $x (v128.xor (local.get $a2) (v128.load offset=32 (local.get $s))))
    (local.set $h (i64.add (local.get $h) (call $xxfold (i64x2.extract_lane 0 (local.get $x)) (i64x2.extract_lane 1 (local.get $x)))))
    (local.set $x (v128.xor (local.get $a3) (v128.load offset=48 (local.get $s))))
    (local.set $h (i64.add (local.get $h) (call $xxfold (i64x2.extract_lane 0 (local.get $x)) (i64x2.extract_lane 1 (local.get $x)))))
    ;; XXH3_avalanche
    (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 37))))
    (local.set $h (i64.mul (local.get $h) (i64.const 0x165667919E3779F9)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 32))))

  ;; XXH3_128bits(memory[p, p+len)) for len > 240 -> out: low64, then high64.
  (func $xxh3long (param $p i32) (param $len i32) (param $out i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $blocks i32) (local $n i32) (local $q i32) (local $s i32) (local $len64 i64)
    (local.set $a0 (v128.const i64x2 0xC2B2AE3D 0x9E3779B185EBCA87))
    (local.set $a1 (v128.const i64x2 0xC2B2AE3D27D4EB4F 0x165667B19E3779F9))
    (local.set $a2 (v128.const i64x2 0x85EBCA77C2B2AE63 0x85EBCA77))
    (local.set $a3 (v128.const i64x2 0x27D4EB2F165667C5 0x9E3779B1))
    (local.set $q (local.get $p))
    ;; Whole blocks of 16 stripes (1024 bytes), each followed by a scramble; not the last byte.
    (local.set $blocks (i32.div_u (i32.sub (local.get $len) (i32.const 1)) (i32.const 1024)))
    (block $blocks_done
      (loop $block
        (br_if $blocks_done (i32.eqz (local.get $blocks)))
        (local.set $s (i32.const 67584))
        (local.set $n (i32.const 16))
        (loop $stripe
          (local.set $a0 (call $xxlane (local.get $a0) (local.get $q) (local.get $s)))
          (local.set $a1 (call $xxlane (local.get $a1) (i32.add (local.get $q) (i32.const 16)) (i32.add (local.get $s) (i32.const 16))))
          (local.set $a2 (call $xxlane (local.get $a2) (i32.add (local.get $q) (i32.const 32)) (i32.add (local.get $s) (i32.const 32))))
          (local.set $a3 (call $xxlane (local.get $a3) (i32.add (local.get $q) (i32.const 48)) (i32.add (local.get $s) (i32.const 48))))
          (local.set $q (i32.add (local.get $q) (i32.const 64)))
          (local.set $s (i32.add (local.get $s) (i32.const 8)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br_if $stripe (local.get $n)))
        ;; The last 64 bytes of the secret.
        (local.set $a0 (call $xxscramble (local.get $a0) (i32.const 67712)))
        (local.set $a1 (call $xxscramble (local.get $a1) (i32.const 67728)))
        (local.set $a2 (call $xxscramble (local.get $a2) (i32.const 67744)))
        (local.set $a3 (call $xxscramble (local.get $a3) (i32.const 67760)))
        (local.set $blocks (i32.sub (local.get $blocks) (i32.const 1)))
        (br $block)))
    ;; The last partial block's whole stripes (short of the last byte).
    (local.set $n (i32.shr_u (i32.sub (i32.sub (local.get $len) (i32.const 1)) (i32.sub (local.get $q) (local.get $p))) (i32.const 6)))
    (local.set $s (i32.const 67584))
    (block $partial_done
      (loop $partial
        (br_if $partial_done (i32.eqz (local.get $n)))
        (local.set $a0 (call $xxlane (local.get $a0) (local.get $q) (local.get $s)))
        (local.set $a1 (call $xxlane (local.get $a1) (i32.add (local.get $q) (i32.const 16)) (i32.add (local.get $s) (i32.const 16))))
        (local.set $a2 (call $xxlane (local.get $a2) (i32.add (local.get $q) (i32.const 32)) (i32.add (local.get $s) (i32.const 32))))
        (local.set $a3 (call $xxlane (local.get $a3) (i32.add (local.get $q) (i32.const 48)) (i32.add (local.get $s) (i32.const 48))))
        (local.set $q (i32.add (local.get $q) (i32.const 64)))
        (local.set $s (i32.add (local.get $s) (i32.const 8)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $partial)))
    ;; The last stripe: the input's last 64 bytes, keyed from secret + 192 - 64 - 7.
    (local.set $q (i32.sub (i32.add (local.get $p) (local.get $len)) (i32.const 64)))
    (local.set $a0 (call $xxlane (local.get $a0) (local.get $q) (i32.const 67705)))
    (local.set $a1 (call $xxlane (local.get $a1) (i32.add (local.get $q) (i32.const 16)) (i32.const 67721)))
    (local.set $a2 (call $xxlane (local.get $a2) (i32.add (local.get $q) (i32.const 32)) (i32.const 67737)))
    (local.set $a3 (call $xxlane (local.get $a3) (i32.add (local.get $q) (i32.const 48)) (i32.const 67753)))
    (local.set $len64 (i64.extend_i32_u (local.get $len)))
    ;; low64: secret + 11, len * PRIME64_1; high64: secret + 192 - 64 - 11, ~(len * PRIME64_2).
    (i64.store (local.get $out)
      (call $xxmerge (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3) (i32.const 67595)
                     (i64.mul (local.get $len64) (i64.const 0x9E3779B185EBCA87))))
    (i64.store offset=8 (local.get $out)
      (call $xxmerge (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3) (i32.const 67701)
                     (i64.xor (i64.mul (local.get $len64) (i64.const 0xC2B2AE3D27D4EB4F)) (i64.const -1)))))

  ;; A block's or chunk's digest: XXH3_128bits over 240 bytes, MurmurHash3_x64_128 (seed 0) up to 240.
  (func $digest (param $p i32) (param $len i32) (param $out i32)
    (if (i32.gt_u (local.get $len) (i32.const 240))
      (then (call $xxh3long (local.get $p) (local.get $len) (local.get $out)))
      (else (call $mm3 (local.get $p) (local.get $len) (i64.const 0) (local.get $out)))))

  ;; One digest: MurmurHash3_x64_128 of memory[p, p+len) with a 32-bit seed (as the reference's
  ;; uint32_t seed, zero-extended).
  (func (export "hash") (param $p i32) (param $len i32) (param $seed i32) (param $out i32)
    (call $mm3 (local.get $p) (local.get $len) (i64.extend_i32_u (local.get $seed)) (local.get $out)))

  ;; One block digest ($digest) of memory[p, p+len).
  (func (export "digest") (param $p i32) (param $len i32) (param $out i32)
    (call $digest (local.get $p) (local.get $len) (local.get $out)))

  ;; Digests ($digest) of consecutive pieces of memory[p, p+len): `size` bytes each, the last one
  ;; shorter when len is not a multiple; 16 bytes each, back to back from out. Returns their count.
  (func $pieces (export "pieces") (param $p i32) (param $len i32) (param $size i32) (param $out i32) (result i32)
    (local $count i32) (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $len)))
        (local.set $n (select (local.get $size) (local.get $len) (i32.lt_u (local.get $size) (local.get $len))))
        (call $digest (local.get $p) (local.get $n) (local.get $out))
        (local.set $p (i32.add (local.get $p) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (br $next)))
    (local.get $count))

  ;; Hash tree level: `count` child digests at `children`, grouped `per` at a time (the last group
  ;; may be shorter), each group's digest = the $digest of its children's 16-byte digests.
  (func (export "tree") (param $children i32) (param $count i32) (param $per i32) (param $out i32) (result i32)
    (call $pieces (local.get $children) (i32.shl (local.get $count) (i32.const 4)) (i32.shl (local.get $per) (i32.const 4)) (local.get $out)))
  ;; The gear table (256 x i32) sits at GEAR_AT = 65536 (right after the main digest slab, see
  ;; blockhash.ts): every load below carries it as its constant offset.

  ;; Length of the first chunk of memory[base, base+n) (src/dataset/fastcdc.ts cutPoint): the
  ;; caller has clamped n to max and made it > min, and passes normal = min(avg, n); n when no cut.
  ;; Four bytes per loop turn, then byte by byte, every byte checked (as gearcut.wat).
  (func $cut (param $base i32) (param $n i32) (param $min i32) (param $normal i32) (param $small i32) (param $large i32) (result i32)
    (local $fp i32) (local $p i32) (local $stop i32)
    (local.set $p (i32.add (local.get $base) (local.get $min)))
    ;; Up to avg: the stricter mask.
    (local.set $stop (i32.add (local.get $base) (local.get $normal)))
    (block $small_by4_done
      (loop $small_by4
        (br_if $small_by4_done (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $stop)))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load offset=65536 (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $small)))
          (then (return (i32.sub (i32.add (local.get $p) (i32.const 1)) (local.get $base)))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load offset=65536 (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $small)))
          (then (return (i32.sub (i32.add (local.get $p) (i32.const 2)) (local.get $base)))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load offset=65536 (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $small)))
          (then (return (i32.sub (i32.add (local.get $p) (i32.const 3)) (local.get $base)))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load offset=65536 (i32.shl (i32.load8_u offset=3 (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $small)))
          (then (return (i32.sub (local.get $p) (local.get $base)))))
        (br $small_by4)))
    (block $small_done
      (loop $small_loop
        (br_if $small_done (i32.ge_u (local.get $p) (local.get $stop)))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load offset=65536 (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $small)))
          (then (return (i32.sub (local.get $p) (local.get $base)))))
        (br $small_loop)))
    ;; From avg to n: the looser mask.
    (local.set $stop (i32.add (local.get $base) (local.get $n)))
    (block $large_by4_done
      (loop $large_by4
        (br_if $large_by4_done (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $stop)))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load offset=65536 (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $large)))
          (then (return (i32.sub (i32.add (local.get $p) (i32.const 1)) (local.get $base)))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load offset=65536 (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $large)))
          (then (return (i32.sub (i32.add (local.get $p) (i32.const 2)) (local.get $base)))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load offset=65536 (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $large)))
          (then (return (i32.sub (i32.add (local.get $p) (i32.const 3)) (local.get $base)))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load offset=65536 (i32.shl (i32.load8_u offset=3 (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $large)))
          (then (return (i32.sub (local.get $p) (local.get $base)))))
        (br $large_by4)))
    (block $large_done
      (loop $large_loop
        (br_if $large_done (i32.ge_u (local.get $p) (local.get $stop)))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load offset=65536 (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $large)))
          (then (return (i32.sub (local.get $p) (local.get $base)))))
        (br $large_loop)))
    (local.get $n))

  ;; 1 when memory[p, p+len) is all zero bytes (stops at the first word that is not).
  (func $zero (param $p i32) (param $len i32) (result i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -8))))
    (block $words_done
      (loop $words
        (br_if $words_done (i32.ge_u (local.get $p) (local.get $end)))
        (if (i64.ne (i64.load (local.get $p)) (i64.const 0)) (then (return (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $words)))
    (local.set $end (i32.add (local.get $end) (i32.and (local.get $len) (i32.const 7))))
    (block $bytes_done
      (loop $bytes
        (br_if $bytes_done (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.load8_u (local.get $p)) (then (return (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $bytes)))
    (i32.const 1))

  ;; FastCDC over memory[p, p+len): cuts chunks while at least `max` bytes follow the chunk's
  ;; start (a later byte could not move the cut), or to the end when `final` is set; at most
  ;; `cap` chunks (the room at `out` and `lens`). Per chunk:
  ;; its digest (16 bytes, from `out`) and its length (i32, from `lens`; negated when the chunk is
  ;; all zero bytes). Returns the number of chunks; the caller sums their lengths.
  ;; All cuts first, then the digests.
  (func (export "chunks") (param $p i32) (param $len i32) (param $final i32) (param $min i32) (param $avg i32) (param $max i32)
        (param $small i32) (param $large i32) (param $out i32) (param $lens i32) (param $cap i32) (result i32)
    (local $count i32) (local $n i32) (local $at i32) (local $lenat i32) (local $left i32)
    (local.set $at (local.get $p))
    (local.set $lenat (local.get $lens))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $len)))
        (br_if $done (i32.ge_u (local.get $count) (local.get $cap)))
        (br_if $done (i32.and (i32.lt_u (local.get $len) (local.get $max)) (i32.eqz (local.get $final))))
        (local.set $n (local.get $len))
        (if (i32.gt_u (local.get $n) (local.get $min))
          (then
            (if (i32.gt_u (local.get $n) (local.get $max)) (then (local.set $n (local.get $max))))
            (local.set $n (call $cut (local.get $at) (local.get $n) (local.get $min)
                                     (select (local.get $avg) (local.get $n) (i32.lt_u (local.get $avg) (local.get $n)))
                                     (local.get $small) (local.get $large)))))
        (i32.store (local.get $lenat) (local.get $n))
        (local.set $at (i32.add (local.get $at) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (local.set $lenat (i32.add (local.get $lenat) (i32.const 4)))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (br $next)))
    ;; The digests and zero marks, from the first chunk again.
    (local.set $left (local.get $count))
    (block $hashed
      (loop $hash
        (br_if $hashed (i32.eqz (local.get $left)))
        (local.set $n (i32.load (local.get $lens)))
        (call $digest (local.get $p) (local.get $n) (local.get $out))
        (if (call $zero (local.get $p) (local.get $n))
          (then (i32.store (local.get $lens) (i32.sub (i32.const 0) (local.get $n)))))
        (local.set $p (i32.add (local.get $p) (local.get $n)))
        (local.set $lens (i32.add (local.get $lens) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $left (i32.sub (local.get $left) (i32.const 1)))
        (br $hash)))
    (local.get $count)))
