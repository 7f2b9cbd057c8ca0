#!/usr/bin/env bash
# Speed of the reference job (784-256-256-10, Adam, batch 100) on all 60,000 Fashion-MNIST training samples:
# median seconds per epoch, samples/s, achieved GFLOP/s and peak RSS of dnn, against, in the same run,
# the sgemm lower bound for these shapes and PyTorch (when Debian's python3-torch is installed).
#
# Usage: scripts/bench.sh [EPOCHS=5] [RUNS=3]; THREADS (default: all cores) and BENCH_DIR (the folder with
# torch_mlp.py and sgemm_peak.c, default ../shared/bench) from the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_packages "${DNN_BUILD_PACKAGES[@]}" "${DNN_DATA_PACKAGES[@]}"
build_dnn build >/dev/null

EPOCHS=${1:-5}
RUNS=${2:-3}
THREADS=${THREADS:-$(nproc)}
BENCH_DIR=${BENCH_DIR:-../shared/bench}
FLOPS_PER_SAMPLE=1211392 # matrix products of one training sample: forward, weight and input gradients
N=60000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q=build/tests/json_query
calc() { awk "BEGIN { print $* }"; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); threads $THREADS"
echo "dnn: $(build/dnntrain --threads "$THREADS" --version | tail -1)"

bound=""
if [ -f "$BENCH_DIR/sgemm_peak.c" ]; then
    gcc -O2 -o "$tmp/sgemm_peak" "$BENCH_DIR/sgemm_peak.c" -lopenblas
    bound=$(OPENBLAS_NUM_THREADS=$THREADS "$tmp/sgemm_peak" 100 | awk '/^RESULT lb_s_per_epoch_step/ {print $3}')
    echo "sgemm lower bound for the step's 8 products at batch 100: $bound s/epoch"
fi

have_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && [ -f "$BENCH_DIR/torch_mlp.py" ] && have_torch=1

: >"$tmp/dnn.s"
: >"$tmp/torch.s"
for r in $(seq "$RUNS"); do
    # dnn: the epoch's training loop time is samples / samples_per_second (validation is off here anyway)
    build/dnntrain --config configs/mlp.json --threads "$THREADS" --out "$tmp/run$r" --quiet \
        --set data.validation_split=0 --set training.early_stopping=null \
        --set training.epochs="$EPOCHS" --set output.save_best=false
    while read -r line; do
        echo "$line" | $q - samples_per_second | awk -v n=$N '{print n / $1}' >>"$tmp/dnn.s"
    done <"$tmp/run$r/train.jsonl"
    $q "$tmp/run$r/report.json" peak_rss_mib >>"$tmp/dnn.rss"
    $q "$tmp/run$r/report.json" test.accuracy >>"$tmp/dnn.acc"
    if [ $have_torch = 1 ]; then
        # PyTorch at its best setting here: torch on 1 thread, OpenBLAS (its GEMMs) on all
        OPENBLAS_NUM_THREADS=$THREADS /usr/bin/python3 "$BENCH_DIR/torch_mlp.py" --epochs "$EPOCHS" --threads 1 \
            --json "$tmp/torch$r.json" >/dev/null
        /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('\n'.join(str(e['train_s']) for e in d['epochs']))" \
            "$tmp/torch$r.json" >>"$tmp/torch.s"
        $q "$tmp/torch$r.json" peak_rss_mib >>"$tmp/torch.rss"
        $q "$tmp/torch$r.json" final_test_acc >>"$tmp/torch.acc"
    fi
done

dnn_s=$(median <"$tmp/dnn.s")
printf '\n%-8s %10s %12s %10s %12s %10s\n' "" "s/epoch" "samples/s" "GFLOP/s" "peak RSS" "test acc"
printf '%-8s %10.3f %12.0f %10.1f %9.0f MiB %10.4f\n' dnn "$dnn_s" "$(calc "$N / $dnn_s")" \
    "$(calc "$N * $FLOPS_PER_SAMPLE / $dnn_s / 1e9")" "$(median <"$tmp/dnn.rss")" "$(median <"$tmp/dnn.acc")"
if [ $have_torch = 1 ]; then
    torch_s=$(median <"$tmp/torch.s")
    printf '%-8s %10.3f %12.0f %10.1f %9.0f MiB %10.4f\n' PyTorch "$torch_s" "$(calc "$N / $torch_s")" \
        "$(calc "$N * $FLOPS_PER_SAMPLE / $torch_s / 1e9")" "$(median <"$tmp/torch.rss")" "$(median <"$tmp/torch.acc")"
    printf '\ndnn / PyTorch epoch time: %.2f\n' "$(calc "$dnn_s / $torch_s")"
fi
[ -n "$bound" ] && printf 'dnn / sgemm lower bound: %.2f\n' "$(calc "$dnn_s / $bound")"
echo "(medians over $RUNS runs x $EPOCHS epochs; test accuracy after $EPOCHS epochs)"

# CSV parsing: a generated 1,000,000 x 20 numeric file, dnn's reader against pandas' C engine
echo
echo "CSV: writing a 1,000,000 x 20 numeric file..."
awk 'BEGIN { srand(3); for (j = 1; j <= 20; j++) printf "%sf%d", (j > 1 ? "," : ""), j; print "";
    for (i = 0; i < 1000000; i++) { for (j = 1; j <= 20; j++) printf "%s%.6f", (j > 1 ? "," : ""), (rand() - 0.5) * 100; print "" } }' \
    >"$tmp/big.csv"
dnn_mbs=$(build/tests/csv_bench "$tmp/big.csv" "$RUNS" 2>/dev/null | awk '{print $1}')
printf 'dnn CSV reader: %s MB/s\n' "$dnn_mbs"
if /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
    pd_mbs=$(/usr/bin/python3 - "$tmp/big.csv" "$RUNS" <<'PY'
import os, statistics, sys, time
import pandas as pd
path, runs = sys.argv[1], int(sys.argv[2])
ts = []
for _ in range(runs):
    t = time.perf_counter()
    pd.read_csv(path, engine="c")
    ts.append(time.perf_counter() - t)
print("%.1f" % (os.path.getsize(path) / 1e6 / statistics.median(ts)))
PY
)
    printf 'pandas %s read_csv (C engine): %s MB/s\n' "$(/usr/bin/python3 -c 'import pandas; print(pandas.__version__)')" "$pd_mbs"
    printf 'dnn / pandas parse speed: %.2f\n' "$(calc "$dnn_mbs / $pd_mbs")"
else
    echo "(pandas not installed: apt-get install python3-pandas to compare)"
fi

# Prediction through the C library (dnn_predict in libdnn.so, as an embedding program calls it) on the
# reference network after one epoch, against ONNX Runtime running the same model exported to ONNX
echo
echo "Prediction latency, 784-256-256-10 (medians over $RUNS timings):"
build/dnntrain --config configs/mlp.json --set training.epochs=1 --out "$tmp/ref" --quiet
# OpenBLAS single-threaded, as the README advises for programs that call dnn_predict from several threads
printf 'dnn library:  %s (OpenBLAS single-threaded)\n' \
    "$(OPENBLAS_NUM_THREADS=1 build/tests/predict_bench "$tmp/ref/ckpt.bin" "$RUNS")"
if ensure_onnxruntime 2>/dev/null; then
    build/dnneval --model "$tmp/ref/ckpt.bin" --export "$tmp/ref.onnx" --quiet
    printf 'ONNX Runtime: %s (its Node.js binding; %s)\n' \
        "$(NODE_PATH=$DNN_NODE_CACHE/node_modules node tests/onnx_bench.js "$tmp/ref.onnx" "$RUNS")" \
        "onnxruntime-node $DNN_ORT_VERSION"
else
    echo "(ONNX Runtime could not be installed from the npm registry: no comparison)"
fi
