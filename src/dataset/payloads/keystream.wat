;; The random_binary keystream: eight xorshift128+ generators (Vigna, "Further scramblings of
;; Marsaglia's xorshift generators", 2017; shifts 23/18/5, as in V8's Math.random) computed two at a
;; time in the 64-bit lanes of WebAssembly SIMD, four vectors per loop turn: 64 bytes per turn.
;;
;; Layout of the 128-byte state at $state: for vector k (0..3), bytes 32k..32k+15 hold s[0] of
;; generators 2k and 2k+1 (little-endian u64 each), bytes 32k+16..32k+31 hold their s[1].
;; Each 64-byte output block holds one result of generators 0..7 in order (u64 little-endian).
;; A plain-JS reference of exactly this layout is in test/dataset/keystream.test.ts.
;;
;; Source of src/dataset/payloads/keystream-wasm.ts: after editing, run `npm run build:wasm`.
(module
  (memory (export "memory") 1)
  ;; fill(state, out, blocks): write blocks × 64 bytes at out and advance the state in place.
  (func (export "fill") (param $state i32) (param $out i32) (param $blocks i32)
    (local $x0 v128) (local $y0 v128) (local $x1 v128) (local $y1 v128) (local $x2 v128) (local $y2 v128) (local $x3 v128) (local $y3 v128)
    (local $t v128) (local $end i32)
    (local.set $x0 (v128.load offset=0 (local.get $state)))
    (local.set $y0 (v128.load offset=16 (local.get $state)))
    (local.set $x1 (v128.load offset=32 (local.get $state)))
    (local.set $y1 (v128.load offset=48 (local.get $state)))
    (local.set $x2 (v128.load offset=64 (local.get $state)))
    (local.set $y2 (v128.load offset=80 (local.get $state)))
    (local.set $x3 (v128.load offset=96 (local.get $state)))
    (local.set $y3 (v128.load offset=112 (local.get $state)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $blocks) (i32.const 6))))
    (block $done
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (loop $next
        ;; out = s[0] + s[1]; t = s[0]; s[0] = s[1]; t ^= t << 23; s[1] = t ^ s[0] ^ (t >> 18) ^ (s[0] >> 5)
        (v128.store offset=0 (local.get $out) (i64x2.add (local.get $x0) (local.get $y0)))
        (local.set $t (local.get $x0))
        (local.set $x0 (local.get $y0))
        (local.set $t (v128.xor (local.get $t) (i64x2.shl (local.get $t) (i32.const 23))))
        (local.set $y0 (v128.xor (v128.xor (local.get $t) (local.get $x0))
                                  (v128.xor (i64x2.shr_u (local.get $t) (i32.const 18)) (i64x2.shr_u (local.get $x0) (i32.const 5)))))
        ;; out = s[0] + s[1]; t = s[0]; s[0] = s[1]; t ^= t << 23; s[1] = t ^ s[0] ^ (t >> 18) ^ (s[0] >> 5)
        (v128.store offset=16 (local.get $out) (i64x2.add (local.get $x1) (local.get $y1)))
        (local.set $t (local.get $x1))
        (local.set $x1 (local.get $y1))
        (local.set $t (v128.xor (local.get $t) (i64x2.shl (local.get $t) (i32.const 23))))
        (local.set $y1 (v128.xor (v128.xor (local.get $t) (local.get $x1))
                                  (v128.xor (i64x2.shr_u (local.get $t) (i32.const 18)) (i64x2.shr_u (local.get $x1) (i32.const 5)))))
        ;; out = s[0] + s[1]; t = s[0]; s[0] = s[1]; t ^= t << 23; s[1] = t ^ s[0] ^ (t >> 18) ^ (s[0] >> 5)
        (v128.store offset=32 (local.get $out) (i64x2.add (local.get $x2) (local.get $y2)))
        (local.set $t (local.get $x2))
        (local.set $x2 (local.get $y2))
        (local.set $t (v128.xor (local.get $t) (i64x2.shl (local.get $t) (i32.const 23))))
        (local.set $y2 (v128.xor (v128.xor (local.get $t) (local.get $x2))
                                  (v128.xor (i64x2.shr_u (local.get $t) (i32.const 18)) (i64x2.shr_u (local.get $x2) (i32.const 5)))))
        ;; out = s[0] + s[1]; t = s[0]; s[0] = s[1]; t ^= t << 23; s[1] = t ^ s[0] ^ (t >> 18) ^ (s[0] >> 5)
        (v128.store offset=48 (local.get $out) (i64x2.add (local.get $x3) (local.get $y3)))
        (local.set $t (local.get $x3))
        (local.set $x3 (local.get $y3))
        (local.set $t (v128.xor (local.get $t) (i64x2.shl (local.get $t) (i32.const 23))))
        (local.set $y3 (v128.xor (v128.xor (local.get $t) (local.get $x3))
                                  (v128.xor (i64x2.shr_u (local.get $t) (i32.const 18)) (i64x2.shr_u (local.get $x3) (i32.const 5)))))
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (br_if $next (i32.lt_u (local.get $out) (local.get $end)))))
    (v128.store offset=0 (local.get $state) (local.get $x0))
    (v128.store offset=16 (local.get $state) (local.get $y0))
    (v128.store offset=32 (local.get $state) (local.get $x1))
    (v128.store offset=48 (local.get $state) (local.get $y1))
    (v128.store offset=64 (local.get $state) (local.get $x2))
    (v128.store offset=80 (local.get $state) (local.get $y2))
    (v128.store offset=96 (local.get $state) (local.get $x3))
    (v128.store offset=112 (local.get $state) (local.get $y3))))
