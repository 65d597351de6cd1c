;; MurmurHash3_x64_128 (Austin Appleby, SMHasher's MurmurHash3.cpp) in WebAssembly, for the block
;; dedup simulation (src/storage/blockhash.ts): every 4 KiB block digest of a read, and every hash
;; tree node above it, in a handful of calls per read instead of one sha256 call per block.
;; Digests are the reference's two 64-bit words stored little-endian (h1 then h2), as the
;; reference writes them on x86. Compiled by `npm run build:wasm` into blockhash-wasm.ts; a test
;; checks the committed bytes and SMHasher's verification value.
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

  ;; Two digests at once, seed 0, of memory[a, a+lena) and memory[b, b+lenb): the 16-byte
  ;; blocks both have (the shorter one's) with the two inputs' dependency chains interleaved, so the
  ;; CPU overlaps them (one input's multiply latency hides behind the other's); then each one's
  ;; rest, tail and finalization on its own ($mm3from). The same digests as two $mm3 calls.
  (func $mm3pair (param $a i32) (param $lena i32) (param $b i32) (param $lenb i32) (param $outa i32) (param $outb i32)
    (local $h1a i64) (local $h2a i64) (local $h1b i64) (local $h2b i64) (local $pa i32) (local $pb i32) (local $end i32) (local $both i32)
    (local.set $both (i32.and (select (local.get $lena) (local.get $lenb) (i32.lt_u (local.get $lena) (local.get $lenb))) (i32.const -16)))
    (local.set $pa (local.get $a))
    (local.set $pb (local.get $b))
    (local.set $end (i32.add (local.get $a) (local.get $both)))
    (block $body_done
      (loop $body
        (br_if $body_done (i32.ge_u (local.get $pa) (local.get $end)))
        (local.set $h1a (i64.xor (local.get $h1a) (i64.mul (i64.rotl (i64.mul (i64.load (local.get $pa)) (i64.const 0x87c37b91114253d5)) (i64.const 31)) (i64.const 0x4cf5ad432745937f))))
        (local.set $h1b (i64.xor (local.get $h1b) (i64.mul (i64.rotl (i64.mul (i64.load (local.get $pb)) (i64.const 0x87c37b91114253d5)) (i64.const 31)) (i64.const 0x4cf5ad432745937f))))
        (local.set $h1a (i64.add (i64.mul (i64.add (i64.rotl (local.get $h1a) (i64.const 27)) (local.get $h2a)) (i64.const 5)) (i64.const 0x52dce729)))
        (local.set $h1b (i64.add (i64.mul (i64.add (i64.rotl (local.get $h1b) (i64.const 27)) (local.get $h2b)) (i64.const 5)) (i64.const 0x52dce729)))
        (local.set $h2a (i64.xor (local.get $h2a) (i64.mul (i64.rotl (i64.mul (i64.load offset=8 (local.get $pa)) (i64.const 0x4cf5ad432745937f)) (i64.const 33)) (i64.const 0x87c37b91114253d5))))
        (local.set $h2b (i64.xor (local.get $h2b) (i64.mul (i64.rotl (i64.mul (i64.load offset=8 (local.get $pb)) (i64.const 0x4cf5ad432745937f)) (i64.const 33)) (i64.const 0x87c37b91114253d5))))
        (local.set $h2a (i64.add (i64.mul (i64.add (i64.rotl (local.get $h2a) (i64.const 31)) (local.get $h1a)) (i64.const 5)) (i64.const 0x38495ab5)))
        (local.set $h2b (i64.add (i64.mul (i64.add (i64.rotl (local.get $h2b) (i64.const 31)) (local.get $h1b)) (i64.const 5)) (i64.const 0x38495ab5)))
        (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
        (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
        (br $body)))
    (call $mm3from (local.get $a) (local.get $lena) (local.get $h1a) (local.get $h2a) (local.get $both) (local.get $outa))
    (call $mm3from (local.get $b) (local.get $lenb) (local.get $h1b) (local.get $h2b) (local.get $both) (local.get $outb)))

  ;; One digest: MurmurHash3_x64_128 of memory[p, p+len) with a 32-bit seed (as the reference's
  ;; uint32_t seed, zero-extended).
  (func (export "hash") (param $p i32) (param $len i32) (param $seed i32) (param $out i32)
    (call $mm3 (local.get $p) (local.get $len) (i64.extend_i32_u (local.get $seed)) (local.get $out)))

  ;; Digests of consecutive pieces of memory[p, p+len): `size` bytes each, the last one shorter
  ;; when len is not a multiple; 16 bytes each, back to back from out. Returns their count.
  (func $pieces (export "pieces") (param $p i32) (param $len i32) (param $size i32) (param $out i32) (result i32)
    (local $count i32) (local $n i32)
    ;; Whole pieces two at a time.
    (block $pairs_done
      (loop $pairs
        (br_if $pairs_done (i32.lt_u (local.get $len) (i32.shl (local.get $size) (i32.const 1))))
        (call $mm3pair (local.get $p) (local.get $size) (i32.add (local.get $p) (local.get $size)) (local.get $size)
                       (local.get $out) (i32.add (local.get $out) (i32.const 16)))
        (local.set $p (i32.add (local.get $p) (i32.shl (local.get $size) (i32.const 1))))
        (local.set $len (i32.sub (local.get $len) (i32.shl (local.get $size) (i32.const 1))))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))
        (local.set $count (i32.add (local.get $count) (i32.const 2)))
        (br $pairs)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $len)))
        (local.set $n (select (local.get $size) (local.get $len) (i32.lt_u (local.get $size) (local.get $len))))
        (call $mm3 (local.get $p) (local.get $n) (i64.const 0) (local.get $out))
        (local.set $p (i32.add (local.get $p) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (br $next)))
    (local.get $count))

  ;; Hash tree level: `count` child digests at `children`, grouped `per` at a time (the last group
  ;; may be shorter), each group's digest = MurmurHash3_x64_128 of its children's 16-byte digests.
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
  ;; All cuts first, then the digests two chunks at a time ($mm3pair).
  (func (export "chunks") (param $p i32) (param $len i32) (param $final i32) (param $min i32) (param $avg i32) (param $max i32)
        (param $small i32) (param $large i32) (param $out i32) (param $lens i32) (param $cap i32) (result i32)
    (local $count i32) (local $n i32) (local $at i32) (local $lenat i32) (local $left i32) (local $second i32)
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
        (if (i32.ge_u (local.get $left) (i32.const 2))
          (then
            (local.set $second (i32.load offset=4 (local.get $lens)))
            (call $mm3pair (local.get $p) (local.get $n) (i32.add (local.get $p) (local.get $n)) (local.get $second)
                           (local.get $out) (i32.add (local.get $out) (i32.const 16))))
          (else (call $mm3 (local.get $p) (local.get $n) (i64.const 0) (local.get $out))))
        (if (call $zero (local.get $p) (local.get $n))
          (then (i32.store (local.get $lens) (i32.sub (i32.const 0) (local.get $n)))))
        (local.set $p (i32.add (local.get $p) (local.get $n)))
        (local.set $lens (i32.add (local.get $lens) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $left (i32.sub (local.get $left) (i32.const 1)))
        (if (local.get $left)
          (then
            (local.set $n (i32.load (local.get $lens)))
            (if (call $zero (local.get $p) (local.get $n))
              (then (i32.store (local.get $lens) (i32.sub (i32.const 0) (local.get $n)))))
            (local.set $p (i32.add (local.get $p) (local.get $n)))
            (local.set $lens (i32.add (local.get $lens) (i32.const 4)))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (local.set $left (i32.sub (local.get $left) (i32.const 1)))))
        (br $hash)))
    (local.get $count)))
