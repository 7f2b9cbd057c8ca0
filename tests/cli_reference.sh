#!/usr/bin/env bash
# The reference job as a user runs it: configs/mlp.json on all of Fashion-MNIST must reach 88% test accuracy.
. "$(dirname "$0")/lib.sh"
need_fmnist
cd "$T"
expect 0 "train the reference MLP" -- "$DNNTRAIN" --config "$SRC_DIR/configs/mlp.json" --out mlp
cat "$T/err" >&2
expect 0 "evaluate it with a quality gate at 88%" -- "$DNNEVAL" --model mlp/ckpt.bin --min-accuracy 0.88
cat "$T/out" >&2
finish
