#!/usr/bin/env bash
# Studies on real data (label "slow"): a random+ASHA study of 20 trials on the wine data (configs/wine-sweep.json
# as shipped) finds a config at least as good as the hand-written one, in fewer epochs than 20 full trials; on a
# Fashion-MNIST subset with the reference MLP as the base, it takes fewer epochs too (see below for its value).
. "$(dirname "$0")/lib.sh"
need_fmnist
cd "$T"

# best_of FILE METRIC min|max: the best value of METRIC over a train.jsonl
best_of() {
    grep -o "\"$2\":[-0-9.e]*" "$1" | cut -d: -f2 |
        awk -v m="$3" 'NR == 1 || (m == "min" ? $1 < b : $1 > b) { b = $1 } END { printf "%.17g\n", b }'
}
# study_check NAME DIR METRIC MODE BASE_BEST MAX_EPOCHS COMPARE: fewer epochs than 20 full trials, and with
# COMPARE=1 a best value at least as good as the base config's (else the comparison is only printed)
study_check() {
    local best epochs
    best=$(awk -F, 'NR > 1 && $2 == "completed" { print $3 }' "$2/trials.csv" |
        awk -v m="$4" 'NR == 1 || (m == "min" ? $1 < b : $1 > b) { b = $1 } END { printf "%.17g\n", b }')
    epochs=$(awk -F, 'NR > 1 { s += $5 } END { print s }' "$2/trials.csv")
    echo "$1: best $3 $best against the base config's $5; $epochs epochs against $((20 * $6)) for 20 full trials" >&2
    if [ "$7" = 1 ]; then
        if [ "$4" = min ]; then awk -v a="$best" -v b="$5" 'BEGIN { exit !(a <= b) }'; else ge "$best" "$5"; fi ||
            fail "$1: the study's best $3 ($best) is worse than the base config's ($5)"
    fi
    [ "$epochs" -lt $((20 * $6)) ] || fail "$1: $epochs epochs, no fewer than 20 full trials ($((20 * $6)))"
}

# wine: the shipped sweep and its base
expect 0 "the base config" -- "$DNNTRAIN" --config "$SRC_DIR/configs/wine.json" --out wine-base --threads 1 --quiet
expect 0 "the wine study" -- "$DNNTUNE" --config "$SRC_DIR/configs/wine-sweep.json" --out wine --threads-per-trial 1 --quiet
study_check wine wine val_loss min "$(best_of wine-base/train.jsonl val_loss min)" 30 1

# Fashion-MNIST: 6000 training images (1200 for validation), the reference MLP as the base. That tuned config is
# hard to beat here with 20 trials pruned from epoch 1 (where small batches and large steps look best): studies
# at seeds 1 to 5 found 0.8483 to 0.8650 against its 0.8600 (1 of 5 at or above it), so the comparison is printed,
# not asserted. The epoch budget holds by construction and is asserted.
fmnist_subset train 6000 sub
cat >mlp.json <<'JSON'
{"seed": 42,
 "data": {"train": {"format": "idx", "images": "sub-images-idx3-ubyte"}, "validation_split": 0.2,
          "normalize": "scale"},
 "model": {"layers": [{"type": "dense", "units": 256, "activation": "relu"},
                      {"type": "dense", "units": 256, "activation": "relu"},
                      {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.001},
 "training": {"epochs": 10, "batch_size": 100}}
JSON
cat >mlp-sweep.json <<'JSON'
{"base": "mlp.json", "metric": "val_accuracy", "seed": 1, "sampler": "random", "trials": 20,
 "pruner": {"type": "asha", "min_epochs": 1, "max_epochs": 10, "reduction_factor": 3},
 "space": {"optimizer.learning_rate": {"loguniform": [1e-4, 1e-2]},
           "model.layers.0.units": {"choice": [64, 128, 256, 512]},
           "model.layers.1.units": {"choice": [64, 128, 256, 512]},
           "training.batch_size": {"choice": [32, 64, 100, 200]}}}
JSON
expect 0 "the reference MLP" -- "$DNNTRAIN" --config mlp.json --out mlp-base --quiet
expect 0 "the Fashion-MNIST study" -- "$DNNTUNE" --config mlp-sweep.json --out mlp --quiet
study_check fashion-mnist mlp val_accuracy max "$(best_of mlp-base/train.jsonl val_accuracy max)" 10 0
finish
