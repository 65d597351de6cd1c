;; FastCDC cut-point scan (src/dataset/fastcdc.ts cutPoint) in WebAssembly: the same 32-bit gear
;; hash, the same two masks. Memory: the gear table (256 x i32) at 0, the data from DATA_OFFSET.
;; Compiled by `npm run build:wasm` into gearcut-wasm.ts; a test checks the committed bytes.
;; Each phase runs four bytes per loop turn (one bounds check per four bytes: measured ~1.4x the
;; CPU-second rate of one byte per turn), then byte by byte to its end; every byte is still
;; checked for a cut, so the cut points are the same.
(module
  (memory (export "memory") 18)
  ;; Length of the first chunk of data[start, start+n): the caller has clamped n to max and made
  ;; it > min, and passes normal = min(avg, n); returns n when no cut point is found.
  (func (export "cut") (param $start i32) (param $n i32) (param $min i32) (param $normal i32) (param $small i32) (param $large i32) (result i32)
    (local $fp i32) (local $p i32) (local $stop i32)
    ;; $p walks absolute addresses: data[start + i] sits at 1024 + start + i
    (local.set $p (i32.add (i32.const 1024) (i32.add (local.get $start) (local.get $min))))
    ;; Up to avg: the stricter mask.
    (local.set $stop (i32.add (i32.const 1024) (i32.add (local.get $start) (local.get $normal))))
    (block $small_by4_done
      (loop $small_by4
        (br_if $small_by4_done (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $stop)))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $small)))
          (then (return (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $small)))
          (then (return (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $small)))
          (then (return (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $small)))
          (then (return (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))))
        (br $small_by4)))
    (block $small_done
      (loop $small_loop
        (br_if $small_done (i32.ge_u (local.get $p) (local.get $stop)))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $small)))
          (then (return (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))))
        (br $small_loop)))
    ;; From avg to max: the looser mask.
    (local.set $stop (i32.add (i32.const 1024) (i32.add (local.get $start) (local.get $n))))
    (block $large_by4_done
      (loop $large_by4
        (br_if $large_by4_done (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $stop)))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $large)))
          (then (return (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $large)))
          (then (return (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $large)))
          (then (return (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $large)))
          (then (return (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))))
        (br $large_by4)))
    (block $large_done
      (loop $large_loop
        (br_if $large_done (i32.ge_u (local.get $p) (local.get $stop)))
        (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
                                (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $fp) (local.get $large)))
          (then (return (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))))
        (br $large_loop)))
    (local.get $n)))
