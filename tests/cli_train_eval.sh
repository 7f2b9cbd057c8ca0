#!/usr/bin/env bash
# End to end on a Fashion-MNIST subset: train, evaluate, report JSON, gates, determinism, path resolution.
. "$(dirname "$0")/lib.sh"
need_fmnist

mkdir -p "$T/data" "$T/cfg"
fmnist_subset train 3000 "$T/data/small"
fmnist_subset t10k 500 "$T/data/smalltest"
gzip -k "$T/data/smalltest-images-idx3-ubyte" "$T/data/smalltest-labels-idx1-ubyte"

# a config with relative data paths: they resolve against the config's folder, not the current one
cat >"$T/cfg/small.json" <<JSON
{
  "seed": 7,
  "data": {
    "train": {"format": "idx", "images": "../data/small-images-idx3-ubyte"},
    "test": {"format": "idx", "images": "../data/smalltest-images-idx3-ubyte.gz"},
    "validation_split": 0.1
  },
  "model": {"layers": [{"type": "dense", "units": 64, "activation": "relu"},
                       {"type": "dense", "units": 10, "activation": "softmax"}]},
  "loss": "cross_entropy",
  "optimizer": {"type": "adam", "learning_rate": 0.002},
  "training": {"epochs": 4, "batch_size": 50},
  "output": {"save_best": true}
}
JSON

cd "$T"
expect 0 "train on a subset" -- "$DNNTRAIN" --config cfg/small.json --threads 1
[ -f runs/small/ckpt.bin ] && [ -f runs/small/best.bin ] && [ -f runs/small/report.json ] || fail "run folder runs/small incomplete"
[ "$(wc -l <runs/small/train.jsonl)" -eq 4 ] || fail "train.jsonl should have 4 lines"
for k in epoch loss accuracy val_loss val_accuracy lr seconds samples_per_second; do
    head -1 runs/small/train.jsonl | "$JSON_QUERY" - "$k" >/dev/null || fail "train.jsonl lacks $k"
done
# stderr is not a terminal: one line per epoch, no progress bar
[ "$(grep -c '^epoch ' "$T/err")" -eq 4 ] || fail "expected one progress line per epoch"
grep -q $'\r' "$T/err" && fail "progress bar drawn although stderr is not a terminal"
grep -q "test accuracy" "$T/out" || fail "summary on stdout"
acc=$("$JSON_QUERY" runs/small/report.json test.accuracy)
ge "$acc" 0.70 || fail "subset test accuracy $acc below 0.70"
[ "$("$JSON_QUERY" runs/small/report.json epochs_run)" = 4 ] || fail "report.json epochs_run"

# dnneval on the config's test set, human and JSON
expect 0 "evaluate the run" -- "$DNNEVAL" --model runs/small/ckpt.bin
grep -q "^Accuracy" "$T/out" && grep -q "Confusion matrix" "$T/out" && grep -q "macro avg" "$T/out" || fail "human report"
expect 0 "evaluate as JSON" -- "$DNNEVAL" --model runs/small/ckpt.bin --json --report eval.json
cp "$T/out" stdout.json
for k in model data samples task loss accuracy per_class macro_avg weighted_avg confusion_matrix seconds; do
    "$JSON_QUERY" stdout.json "$k" >/dev/null || fail "--json lacks $k"
done
cmp -s <("$JSON_QUERY" stdout.json accuracy) <("$JSON_QUERY" eval.json accuracy) || fail "--report differs from --json"
[ "$("$JSON_QUERY" stdout.json samples)" = 500 ] || fail "500 test samples"
[ "$("$JSON_QUERY" stdout.json accuracy)" = "$acc" ] || fail "dnneval and dnntrain disagree on test accuracy"

# explicit --data, plain and gzip, labels paired by name or given
expect 0 "--data with paired labels" -- "$DNNEVAL" --model runs/small/ckpt.bin --data data/smalltest-images-idx3-ubyte --json
[ "$("$JSON_QUERY" "$T/out" accuracy)" = "$acc" ] || fail "plain and gzip test sets disagree"
expect 0 "--data --labels" -- "$DNNEVAL" --model runs/small/ckpt.bin --data data/small-images-idx3-ubyte \
    --labels data/small-labels-idx1-ubyte --quiet
[ -s "$T/out" ] && fail "--quiet printed on stdout"

# quality gates
expect 6 "a missed gate exits 6" -- "$DNNEVAL" --model runs/small/ckpt.bin --min-accuracy 0.999 --max-loss 0.0001 --report gate.json
err_has "quality gate failed: accuracy" "--min-accuracy 0.999" "quality gate failed: loss"
[ -f gate.json ] || fail "the report is written even when a gate fails"
expect 0 "a met gate exits 0" -- "$DNNEVAL" --model runs/small/ckpt.bin --min-accuracy 0.5 --max-loss 5 --quiet
expect 2 "a regression gate on a classifier" -- "$DNNEVAL" --model runs/small/ckpt.bin --min-r2 0.5

# determinism: the same seed and threads give the same bytes; another seed does not
expect 0 "train again" -- "$DNNTRAIN" --config cfg/small.json --threads 1 --out runs/again --quiet
cmp -s runs/small/ckpt.bin runs/again/ckpt.bin || fail "same seed and threads, different checkpoint bytes"
expect 0 "train with --seed" -- "$DNNTRAIN" --config cfg/small.json --threads 1 --out runs/seed8 --seed 8 --quiet
cmp -s runs/small/ckpt.bin runs/seed8/ckpt.bin && fail "a different seed gave the same checkpoint"
expect 0 "2 threads" -- "$DNNTRAIN" --config cfg/small.json --threads 2 --out runs/t2a --quiet
expect 0 "2 threads again" -- "$DNNTRAIN" --config cfg/small.json --threads 2 --out runs/t2b --quiet
cmp -s runs/t2a/ckpt.bin runs/t2b/ckpt.bin || fail "2 threads: same seed, different checkpoint bytes"

# overrides reach the run and are recorded in the checkpoint's config
expect 0 "--set" -- "$DNNTRAIN" --config cfg/small.json --set training.epochs=1 --set model.layers.0.units=16 --out runs/set --quiet
[ "$(wc -l <runs/set/train.jsonl)" -eq 1 ] || fail "--set training.epochs=1 not applied"
expect 0 "--info" -- "$DNNEVAL" --model runs/set/ckpt.bin --info
grep -q '"units": 16' "$T/out" || fail "--info shows the overridden config"
grep -q "parameters 12730" "$T/out" || fail "--info parameter count (784*16+16+16*10+10 = 12730)"

# predictions: a header and one row per sample, in input order; top-k accuracy is at least the accuracy
expect 0 "--predict" -- "$DNNEVAL" --model runs/small/ckpt.bin --predict preds.csv --top-k 3 --json
[ "$(wc -l <preds.csv)" -eq 501 ] || fail "--predict: 500 rows and a header"
[ "$(head -1 preds.csv)" = "index,predicted,p_0,p_1,p_2,p_3,p_4,p_5,p_6,p_7,p_8,p_9" ] || fail "--predict header: $(head -1 preds.csv)"
[ "$(sed -n 2p preds.csv | cut -d, -f1)" = 0 ] && [ "$(tail -1 preds.csv | cut -d, -f1)" = 499 ] || fail "--predict order"
awk -F, 'NR > 1 { s = 0; for (i = 3; i <= NF; i++) s += $i; if (s < 0.999 || s > 1.001) bad++ } END { exit bad > 0 }' preds.csv     || fail "--predict probabilities do not sum to 1"
top3=$("$JSON_QUERY" "$T/out" top_k_accuracy)
ge "$top3" "$acc" || fail "top-3 accuracy $top3 below accuracy $acc"
expect 0 "--predict -" -- "$DNNEVAL" --model runs/small/ckpt.bin --predict -
[ "$(wc -l <"$T/out")" -eq 501 ] || fail "--predict - writes only predictions on stdout"
grep -q "^Accuracy" "$T/err" || fail "--predict -: the human report goes to stderr"

# on a terminal, a progress bar redrawn in place (script gives the command a pseudo-terminal)
if command -v script >/dev/null; then
    script -qec "$DNNTRAIN --config cfg/small.json --out runs/tty --set training.epochs=1" /dev/null >tty.txt 2>&1 </dev/null
    grep -q $'\r' tty.txt && grep -q "ETA" tty.txt && grep -q "samples/s" tty.txt || fail "no progress bar on a terminal"
fi

# cmake --install puts both commands in place
if [ -n "${BUILD_DIR:-}" ]; then
    expect 0 "cmake --install" -- cmake --install "$BUILD_DIR" --prefix "$T/prefix"
    [ -x "$T/prefix/bin/dnntrain" ] && [ -x "$T/prefix/bin/dnneval" ] || fail "installed binaries"
fi

finish
