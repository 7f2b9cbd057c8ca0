#!/usr/bin/env bash
# --precision and training.precision end to end: bf16 training reaches fp32's accuracy on a Fashion-MNIST
# subset, its checkpoint evaluates in fp32 and bf16, the same seed and threads give the same bytes, and a
# CPU without bf16 (simulated with DNN_NO_BF16) is refused with exit 2 and a message, never run in fp32.
. "$(dirname "$0")/lib.sh"
need_fmnist

mkdir -p "$T/data"
fmnist_subset train 1500 "$T/data/small"
fmnist_subset t10k 1000 "$T/data/test"
cat >"$T/small.json" <<JSON
{
  "seed": 5,
  "data": {"train": {"format": "idx", "images": "data/small-images-idx3-ubyte"},
           "test": {"format": "idx", "images": "data/test-images-idx3-ubyte"}, "validation_split": 0.1},
  "model": {"layers": [{"type": "dense", "units": 64, "activation": "relu"},
                       {"type": "dense", "units": 10, "activation": "softmax"}]},
  "loss": "cross_entropy",
  "optimizer": {"type": "adam", "learning_rate": 0.002},
  "training": {"epochs": 5, "batch_size": 64,
               "early_stopping": {"monitor": "val_loss", "patience": 10, "restore_best": true}},
  "output": {"save_best": true}
}
JSON
cd "$T"

# refusals that hold on any machine: an unknown precision, and bf16 on a CPU that (we pretend) lacks it
expect 2 "--precision fp16 is refused" -- "$DNNTRAIN" --config small.json --precision fp16 --out r0
err_has "--precision" "fp32 or bf16" "fp16"
expect 2 "training.precision fp16 is refused" -- "$DNNTRAIN" --config small.json --set training.precision=fp16 --out r0
err_has "training.precision" "\"bf16\""
expect 2 "dnneval --precision half is refused" -- "$DNNEVAL" --model none.bin --precision half
err_has "fp32 or bf16"
export DNN_NO_BF16=1
expect 2 "bf16 training on a CPU without bf16" -- "$DNNTRAIN" --config small.json --precision bf16 --out r0
err_has "AVX512_BF16" "DNN_NO_BF16" "fp32"
[ -f r0/ckpt.bin ] && fail "a refused bf16 run wrote a checkpoint"
expect 2 "training.precision bf16 on a CPU without bf16" -- "$DNNTRAIN" --config small.json --set training.precision=bf16 --out r0
err_has "AVX512_BF16"
expect 0 "fp32 training needs no bf16" -- "$DNNTRAIN" --config small.json --threads 2 --out fp32
expect 2 "dnneval --precision bf16 on a CPU without bf16" -- "$DNNEVAL" --model fp32/ckpt.bin --precision bf16
err_has "AVX512_BF16"
unset DNN_NO_BF16

if ! "$DNNTRAIN" --config small.json --precision bf16 --threads 2 --out bf16 --quiet 2>"$T/err"; then
    if grep -qE "AVX512_BF16|oneDNN" "$T/err"; then
        skip "bf16 cannot run here (the refusals above ran): $(cat "$T/err")"
    else
        fail "bf16 training"
        sed 's/^/    /' "$T/err" >&2
    fi
    finish
fi
pass "bf16 training"
[ "$("$JSON_QUERY" bf16/report.json precision)" = bf16 ] || fail "report.json precision should be bf16"
[ "$("$JSON_QUERY" fp32/report.json precision)" = fp32 ] || fail "report.json precision should be fp32"
a32=$("$JSON_QUERY" fp32/report.json test.accuracy)
a16=$("$JSON_QUERY" bf16/report.json test.accuracy)
ge "$a16" "$(awk -v a="$a32" 'BEGIN { print a - 0.02 }')" || fail "bf16 test accuracy $a16, fp32 $a32"
ge "$a16" 0.75 || fail "bf16 test accuracy $a16 < 0.75"

# the same seed and threads: the same bytes
expect 0 "bf16 training again" -- "$DNNTRAIN" --config small.json --precision bf16 --threads 2 --out bf16b
cmp -s bf16/ckpt.bin bf16b/ckpt.bin || fail "two bf16 runs of the same seed and threads differ"

# the checkpoint holds fp32 weights: it evaluates in either precision; bf16 scores as training's test did
expect 0 "dnneval a bf16 checkpoint in fp32" -- "$DNNEVAL" --model bf16/best.bin --data data/test-images-idx3-ubyte --json
e32=$("$JSON_QUERY" "$T/out" accuracy)
[ "$("$JSON_QUERY" "$T/out" precision)" = fp32 ] || fail "dnneval evaluates in fp32 by default"
expect 0 "dnneval a bf16 checkpoint in bf16" -- "$DNNEVAL" --model bf16/best.bin --data data/test-images-idx3-ubyte --json --precision bf16
e16=$("$JSON_QUERY" "$T/out" accuracy)
[ "$("$JSON_QUERY" "$T/out" precision)" = bf16 ] || fail "dnneval --precision bf16 reports bf16"
[ "$e16" = "$a16" ] || fail "dnneval in bf16 scored $e16, the bf16 run's own test $a16"
awk -v a="$e32" -v b="$e16" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }' ||
    fail "a bf16 checkpoint scores $e32 in fp32 and $e16 in bf16"
# a resumed bf16 run stays bf16 (the precision is in the checkpoint's config)
expect 0 "resume a bf16 run" -- "$DNNTRAIN" --resume bf16/ckpt.bin --set training.epochs=6 --quiet
[ "$("$JSON_QUERY" bf16/report.json precision)" = bf16 ] || fail "a resumed bf16 run reports bf16"
finish
