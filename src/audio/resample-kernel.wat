;; The resampler's inner loop (src/audio/resample.ts) in WebAssembly SIMD: each
;; output sample is one row of the polyphase table dotted with the input window
;; it covers. Compiled by scripts/wasm/build.js (npm run build:wasm) into
;; resample-kernel.wasm.ts.
;;
;; Memory (the caller lays it out): the table, `phases` rows of `stride` f32
;; coefficients (taps padded with zeros to a multiple of 4); the input window,
;; f32, padded with zeros past its end; the output, `count` f32.
;;
;; Output k reads table row `phase` and the input from sample `offset`; then the
;; exact input position advances by down/up: phase += down, and whole multiples
;; of `up` move offset on (integers, no rounding).
(module
  (memory (export "memory") 1)
  (func (export "run")
    (param $table i32) (param $stride i32) (param $input i32) (param $out i32) (param $count i32)
    (param $phase i32) (param $offset i32) (param $up i32) (param $down i32)
    (local $row i32) (local $x i32) (local $j i32) (local $bytes i32) (local $q i32)
    (local $a v128) (local $b v128)
    (local.set $bytes (i32.shl (local.get $stride) (i32.const 2)))
    (block $done
      (loop $outputs
        (br_if $done (i32.eqz (local.get $count)))
        (local.set $row (i32.add (local.get $table) (i32.mul (local.get $phase) (local.get $bytes))))
        (local.set $x (i32.add (local.get $input) (i32.shl (local.get $offset) (i32.const 2))))
        (local.set $a (v128.const f32x4 0 0 0 0))
        (local.set $b (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        ;; two running sums of four lanes: 8 taps per turn, then the last 4 if any
        (block $tail
          (loop $taps
            (br_if $tail (i32.gt_u (i32.add (local.get $j) (i32.const 32)) (local.get $bytes)))
            (local.set $a (f32x4.add (local.get $a)
              (f32x4.mul (v128.load (i32.add (local.get $row) (local.get $j)))
                         (v128.load (i32.add (local.get $x) (local.get $j))))))
            (local.set $b (f32x4.add (local.get $b)
              (f32x4.mul (v128.load offset=16 (i32.add (local.get $row) (local.get $j)))
                         (v128.load offset=16 (i32.add (local.get $x) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 32)))
            (br $taps)))
        (if (i32.lt_u (local.get $j) (local.get $bytes))
          (then
            (local.set $a (f32x4.add (local.get $a)
              (f32x4.mul (v128.load (i32.add (local.get $row) (local.get $j)))
                         (v128.load (i32.add (local.get $x) (local.get $j))))))))
        (local.set $a (f32x4.add (local.get $a) (local.get $b)))
        (f32.store (local.get $out)
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
            (f32.add (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        ;; next exact input position
        (local.set $phase (i32.add (local.get $phase) (local.get $down)))
        (local.set $q (i32.div_u (local.get $phase) (local.get $up)))
        (local.set $offset (i32.add (local.get $offset) (local.get $q)))
        (local.set $phase (i32.sub (local.get $phase) (i32.mul (local.get $q) (local.get $up))))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $outputs)))))
