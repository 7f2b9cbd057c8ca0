#!/usr/bin/env bash
# The reference job as a user runs it: configs/mlp.json on all of Fashion-MNIST must reach 88% test accuracy.
# On one thread: with more, a batch's rows are split across threads, whose gradients are added in another
# order, and the result (of a run, not of the method: seeds 1 to 4 on 2 threads reach 88.4 to 89.0%) would
# depend on the machine's cores.
. "$(dirname "$0")/lib.sh"
need_fmnist
cd "$T"
expect 0 "train the reference MLP" -- "$DNNTRAIN" --config "$SRC_DIR/configs/mlp.json" --out mlp --threads 1
cat "$T/err" >&2
expect 0 "evaluate it with a quality gate at 88%" -- "$DNNEVAL" --model mlp/ckpt.bin --min-accuracy 0.88
cat "$T/out" >&2
expect 0 "evaluate it as JSON" -- "$DNNEVAL" --model mlp/ckpt.bin --json
cp "$T/out" mlp.json
acc=$("$JSON_QUERY" mlp.json accuracy)
ge "$acc" 0.88 || fail "the reference MLP reaches $acc, short of 88%"
[ "$("$JSON_QUERY" mlp.json per_class.9.class)" = "Ankle boot" ] || fail "data.classes names the classes in reports"

# with dropout and a cosine schedule it does better still
expect 0 "train the regularised MLP" -- "$DNNTRAIN" --config "$SRC_DIR/configs/mlp-regularized.json" --out reg --quiet --threads 1
expect 0 "evaluate the regularised MLP" -- "$DNNEVAL" --model reg/ckpt.bin --json
reg=$("$JSON_QUERY" "$T/out" accuracy)
echo "test accuracy: mlp.json $acc, mlp-regularized.json $reg" >&2
ge "$reg" "$(awk -v a="$acc" 'BEGIN { print a + 0.005 }')" || fail "the regularised MLP ($reg) does not beat mlp.json ($acc) by half a point"
ge "$reg" 0.895 || fail "the regularised MLP reaches $reg, short of 89.5%"
finish
