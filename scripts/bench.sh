#!/usr/bin/env bash
# Speed of the reference jobs on all 60,000 Fashion-MNIST training samples: the MLP (784-256-256-10, Adam,
# batch 100) in fp32 and bf16, and the CNN (configs/cnn.json). Median seconds per epoch, samples/s, achieved
# GFLOP/s and peak RSS of dnn, against, in the same run, the lower bounds for their products (sgemm; for bf16,
# oneDNN's bf16 matmul) and PyTorch (when Debian's python3-torch is installed; for bf16 under CPU autocast);
# dnneval's speed in both precisions; for the CNN also where a training step's time goes. Then the CSV reader
# against pandas.
#
# Then data-parallel training with mpirun: the same MLP job on 1 process x 1 thread, 2 processes x 1 thread
# and 1 process x 2 threads (and 2 x 1 over TCP on the loopback), runs interleaved, and the time of the
# gradient's allreduce alone, for the scaling model of docs/scaling.md.
#
# Last, the C library's prediction latency against ONNX Runtime.
#
# Usage: scripts/bench.sh [EPOCHS=5] [RUNS=3]; from the environment: PARTS (what to measure, default
# "dnn mpi cnn csv predict"), THREADS (default: all cores), CNN_EPOCHS (default 2; BENCH_CNN=0 skips the
# CNN too), BENCH_DIR (the folder with torch_mlp.py, torch_cnn.py and sgemm_peak.c, default ../shared/bench)
# and MPI_OPTS (mpirun's transport options, default "--mca btl_vader_single_copy_mechanism none", which
# containers need).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_packages "${DNN_BUILD_PACKAGES[@]}" "${DNN_DATA_PACKAGES[@]}" "${DNN_ONEDNN_PACKAGES[@]}"
build_dnn build -DDNN_MPI=ON >/dev/null

EPOCHS=${1:-5}
RUNS=${2:-3}
THREADS=${THREADS:-$(nproc)}
BENCH_DIR=${BENCH_DIR:-../shared/bench}
CNN_EPOCHS=${CNN_EPOCHS:-2}
FLOPS_PER_SAMPLE=1211392 # matrix products of one training sample: forward, weight and input gradients
N=60000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q=build/tests/json_query
calc() { awk "BEGIN { print $* }"; }
want() { [[ " ${PARTS:-dnn mpi cnn csv predict} " == *" $1 "* ]]; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# header; row LABEL NAME FLOPS_PER_SAMPLE: a results table, a row from the medians in $tmp/NAME.s, .rss and .acc
header() { printf '\n%-9s %10s %12s %10s %12s %10s\n' "" "s/epoch" "samples/s" "GFLOP/s" "peak RSS" "test acc"; }
row() {
    local s
    s=$(median <"$tmp/$2.s")
    printf '%-9s %10.3f %12.0f %10.1f %9.0f MiB %10.4f\n' "$1" "$s" "$(calc "$N / $s")" "$(calc "$N * $3 / $s / 1e9")" \
        "$(median <"$tmp/$2.rss")" "$(median <"$tmp/$2.acc")"
}
# dnn_run CONFIG NAME EPOCHS RUN [--set ...]: train on all samples (no validation split, no early stopping) and
# append each epoch's seconds (samples / samples_per_second: the training loop's time), the peak RSS and the
# test accuracy to $tmp/NAME.s, .rss and .acc
dnn_run() {
    local config=$1 name=$2 epochs=$3 r=$4
    shift 4
    build/dnntrain --config "$config" --threads "$THREADS" --out "$tmp/$name$r" --quiet \
        --set data.validation_split=0 --set training.early_stopping=null \
        --set training.epochs="$epochs" --set output.save_best=false "$@"
    while read -r line; do
        echo "$line" | $q - samples_per_second | awk -v n=$N '{print n / $1}' >>"$tmp/$name.s"
    done <"$tmp/$name$r/train.jsonl"
    $q "$tmp/$name$r/report.json" peak_rss_mib >>"$tmp/$name.rss"
    $q "$tmp/$name$r/report.json" test.accuracy >>"$tmp/$name.acc"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); threads $THREADS"
echo "dnn: $(build/dnntrain --threads "$THREADS" --version | grep '^BLAS')"

if want dnn; then
# ---- the MLP, configs/mlp.json, in fp32 and in bf16 (when this CPU and build have it) ----
bound=""
if [ -f "$BENCH_DIR/sgemm_peak.c" ]; then
    gcc -O2 -o "$tmp/sgemm_peak" "$BENCH_DIR/sgemm_peak.c" -lopenblas
    bound=$(OPENBLAS_NUM_THREADS=$THREADS "$tmp/sgemm_peak" 100 | awk '/^RESULT lb_s_per_epoch_step/ {print $3}')
    echo "sgemm lower bound for the step's 8 products at batch 100: $bound s/epoch"
fi
# the bf16 bound: the step's 8 products alone on oneDNN's bf16 matmul, each at its shape (net_bench), the
# median of three probes
have_bf16=0
bf16_bound=""
if build/tests/net_bench configs/mlp.json 20 "$THREADS" training.precision=bf16 >"$tmp/bf16.profile" 2>&1; then
    have_bf16=1
    for i in 1 2; do build/tests/net_bench configs/mlp.json 20 "$THREADS" training.precision=bf16 >>"$tmp/bf16.profile"; done
    bf16_bound=$(awk '/^RESULT/ {print $7 * 600 / 1000}' "$tmp/bf16.profile" | median)
    echo "bf16 lower bound for the same 8 products (oneDNN bf16 matmul): $bf16_bound s/epoch"
else
    echo "no bf16 here: $(tail -1 "$tmp/bf16.profile")"
fi

have_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && [ -f "$BENCH_DIR/torch_mlp.py" ] && have_torch=1
# torch_run NAME RUN [bf16]: PyTorch's peer at its best setting here (torch on 1 thread, OpenBLAS, its GEMMs,
# on all), in fp32 or under CPU autocast to bfloat16 (its products in bf16, as dnn's)
torch_run() {
    local name=$1 r=$2 cast=${3:-}
    OPENBLAS_NUM_THREADS=$THREADS /usr/bin/python3 - "$BENCH_DIR/torch_mlp.py" --epochs "$EPOCHS" --threads 1 \
        --json "$tmp/$name$r.json" "$cast" >/dev/null <<'PY'
import runpy, sys
import torch
import torch.nn as nn
path, cast = sys.argv[1], sys.argv[-1]
sys.argv = [path] + sys.argv[2:-1]
if cast == "bf16":
    # each forward pass under its own autocast context (one around the whole script would keep its cache of
    # bf16 weights, never updated), its logits back to fp32 for the loss, as dnn does
    forward = nn.Sequential.forward
    def bf16_forward(self, *a, **k):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return forward(self, *a, **k).float()
    nn.Sequential.forward = bf16_forward
runpy.run_path(path, run_name="__main__")
PY
    /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('\n'.join(str(e['train_s']) for e in d['epochs']))" \
        "$tmp/$name$r.json" >>"$tmp/$name.s"
    $q "$tmp/$name$r.json" peak_rss_mib >>"$tmp/$name.rss"
    $q "$tmp/$name$r.json" final_test_acc >>"$tmp/$name.acc"
}
torch_bf16=0
[ $have_torch = 1 ] && /usr/bin/python3 -c 'import torch; torch.autocast("cpu", dtype=torch.bfloat16)' 2>/dev/null &&
    torch_bf16=1

# the four jobs interleaved, run after run, so that the machine's load falls on all alike
: >"$tmp/dnn.s"
for r in $(seq "$RUNS"); do
    dnn_run configs/mlp.json dnn "$EPOCHS" "$r"
    if [ $have_bf16 = 1 ]; then dnn_run configs/mlp.json dnnh "$EPOCHS" "$r" --precision bf16; fi
    if [ $have_torch = 1 ]; then torch_run torch "$r"; fi
    if [ $torch_bf16 = 1 ]; then torch_run torchh "$r" bf16; fi
done

dnn_s=$(median <"$tmp/dnn.s")
header
row "dnn fp32" dnn "$FLOPS_PER_SAMPLE"
[ $have_bf16 = 1 ] && row "dnn bf16" dnnh "$FLOPS_PER_SAMPLE"
[ $have_torch = 1 ] && row "PyTorch" torch "$FLOPS_PER_SAMPLE"
[ $torch_bf16 = 1 ] && row "PT bf16" torchh "$FLOPS_PER_SAMPLE"
[ -n "$bound" ] && printf '%-9s %10.3f %12.0f %10.1f\n' "sgemm" "$bound" "$(calc "$N / $bound")" \
    "$(calc "$N * $FLOPS_PER_SAMPLE / $bound / 1e9")"
[ -n "$bf16_bound" ] && printf '%-9s %10.3f %12.0f %10.1f\n' "bf16 mm" "$bf16_bound" "$(calc "$N / $bf16_bound")" \
    "$(calc "$N * $FLOPS_PER_SAMPLE / $bf16_bound / 1e9")"
echo
[ -n "$bound" ] && printf 'dnn fp32 / sgemm lower bound: %.2f\n' "$(calc "$dnn_s / $bound")"
[ $have_torch = 1 ] && printf 'dnn fp32 / PyTorch fp32 epoch time: %.2f\n' "$(calc "$dnn_s / $(median <"$tmp/torch.s")")"
if [ $have_bf16 = 1 ]; then
    dnnh_s=$(median <"$tmp/dnnh.s")
    printf 'dnn bf16 / bf16 lower bound: %.2f\n' "$(calc "$dnnh_s / $bf16_bound")"
    [ -n "$bound" ] && printf 'dnn bf16 / sgemm lower bound: %.2f\n' "$(calc "$dnnh_s / $bound")"
    printf 'dnn bf16 / dnn fp32 epoch time: %.2f\n' "$(calc "$dnnh_s / $dnn_s")"
    if [ $torch_bf16 = 1 ]; then
        printf 'dnn bf16 / PyTorch bf16 epoch time: %.2f\n' "$(calc "$dnnh_s / $(median <"$tmp/torchh.s")")"
    fi
    # scoring the 10,000 test samples: dnneval's samples/s in each precision, interleaved, of the first fp32 run
    for r in $(seq "$RUNS"); do
        for p in fp32 bf16; do
            build/dnneval --model "$tmp/dnn1/ckpt.bin" --threads "$THREADS" --precision $p --json |
                $q - samples_per_second >>"$tmp/eval_$p"
        done
    done
    e32=$(median <"$tmp/eval_fp32")
    e16=$(median <"$tmp/eval_bf16")
    printf 'dnneval samples/s: fp32 %.0f, bf16 %.0f (%.2fx)\n' "$e32" "$e16" "$(calc "$e16 / $e32")"
fi
echo "(medians over $RUNS runs x $EPOCHS epochs; test accuracy after $EPOCHS epochs; GFLOP/s of the same"
echo " $FLOPS_PER_SAMPLE FLOP of products per training sample for all; bf16 rows: products in bf16, fp32 accumulation)"
fi

# Data-parallel: the reference job on P processes x T threads each, over shared memory or TCP
if want mpi; then
echo
echo "data-parallel training: $(build/dnntrain --version | grep '^MPI')"
read -r -a mpi_opts <<<"${MPI_OPTS:---mca btl_vader_single_copy_mechanism none}"
[ "$(id -u)" -eq 0 ] && mpi_opts+=(--allow-run-as-root)
shm=(--mca btl self,vader)
tcp=(--mca btl self,tcp --mca btl_tcp_if_include lo)
job() { # NAME PROCESSES THREADS BATCH [TRANSPORT...]: one run, its epochs' seconds appended to $tmp/NAME.s
    local name=$1 p=$2 t=$3 b=$4 out="$tmp/$1-$r"
    shift 4
    local cmd=(build/dnntrain)
    [ "$p" -gt 1 ] && cmd=(mpirun -np "$p" --bind-to core "${mpi_opts[@]}" "$@" build/dnntrain)
    "${cmd[@]}" --config configs/mlp.json --threads "$t" --out "$out" --quiet \
        --set data.validation_split=0 --set training.early_stopping=null --set data.test=null \
        --set training.epochs="$EPOCHS" --set training.batch_size="$b" --set output.save_best=false
    while read -r line; do
        echo "$line" | $q - samples_per_second | awk -v n=$N '{print n / $1}' >>"$tmp/$name.s"
    done <"$out/train.jsonl"
}
for r in $(seq "$RUNS"); do # interleaved, so that a noisy minute hits every setting alike
    job 1x1 1 1 100
    job 2x1 2 1 100 "${shm[@]}"
    job 1x2 1 2 100
    job 2x1-tcp 2 1 100 "${tcp[@]}"
    job 1x1-b50 1 1 50 # a step of half the rows, for the scaling model
done
base=$(median <"$tmp/1x1.s")
printf '\n%-34s %10s %12s %10s\n' "processes x threads" "s/epoch" "samples/s" "speed-up"
for name in 1x1 2x1 1x2 2x1-tcp; do
    v=$(median <"$tmp/$name.s")
    printf '%-34s %10.3f %12.0f %9.2fx\n' "$(case $name in 1x1) echo "1 x 1";; 2x1) echo "2 x 1 (shared memory)";;
        1x2) echo "1 x 2 (threads)";; *) echo "2 x 1 (TCP, loopback)";; esac)" "$v" "$(calc "$N / $v")" \
        "$(calc "$base / $v")"
done
echo "(medians over $RUNS runs x $EPOCHS epochs, runs interleaved; 600 steps of batch 100 per epoch)"
s21=$(median <"$tmp/2x1.s")
s12=$(median <"$tmp/1x2.s")
printf 'goal 2 x 1 >= 1.7x 1 x 1: %.2fx %s; 2 x 1 no slower than 1 x 2: %.2fx %s\n' "$(calc "$base / $s21")" \
    "$(awk -v a="$base" -v b="$s21" 'BEGIN { print (a / b >= 1.7 ? "(met)" : "(NOT met)") }')" "$(calc "$s12 / $s21")" \
    "$(awk -v a="$s12" -v b="$s21" 'BEGIN { print (a / b >= 1 ? "(met)" : "(NOT met)") }')"
for t in shm tcp; do
    declare -n opts=$t
    mpirun -np 2 --bind-to core "${mpi_opts[@]}" "${opts[@]}" build/tests/allreduce_bench 269322 400 |
        sed "s/^/$t: /"
done
step100=$(calc "$base / 600 * 1000")
step50=$(calc "$(median <"$tmp/1x1-b50.s") / 1200 * 1000")
echo "one process, 1 thread: a step of 100 rows $step100 ms, of 50 rows $step50 ms"
echo
echo "projected (scripts/scaling.sh $step100 $step50):"
scripts/scaling.sh "$step100" "$step50"
fi

# ---- the CNN, configs/cnn.json: conv 32 3x3, maxpool 2, conv 64 3x3, maxpool 2, dense 128, dense 10 ----
# without its two dropout layers, as PyTorch's peer has none: the same products and the same layers
CNN_LAYERS='[{"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": "same", "activation": "relu"},
  {"type": "maxpool2d"}, {"type": "conv2d", "filters": 64, "kernel_size": 3, "padding": "same", "activation": "relu"},
  {"type": "maxpool2d"}, {"type": "flatten"}, {"type": "dense", "units": 128, "activation": "relu"},
  {"type": "dense", "units": 10, "activation": "softmax"}]'
if want cnn && [ "${BENCH_CNN:-1}" = 1 ]; then
    echo
    echo "CNN (configs/cnn.json) on all $N samples, $RUNS runs x $CNN_EPOCHS epochs, batch 100, threads $THREADS"
    # where a step's time goes, and its products alone at their shapes: the sgemm bound
    build/tests/net_bench configs/cnn.json 30 "$THREADS" model.layers="$CNN_LAYERS" | tee "$tmp/cnn.profile"
    read -r cnn_bound_ms cnn_flops_step < <(awk '/^RESULT/ {print $7, $11}' "$tmp/cnn.profile")
    cnn_fps=$(calc "$cnn_flops_step / 100") # products per training sample (the input's gradient is not computed)
    cnn_torch=0
    /usr/bin/python3 -c 'import torch' 2>/dev/null && [ -f "$BENCH_DIR/torch_cnn.py" ] && cnn_torch=1
    : >"$tmp/cnn.s"
    : >"$tmp/cnnt.s"
    for r in $(seq "$RUNS"); do
        dnn_run configs/cnn.json cnn "$CNN_EPOCHS" "$r" --set model.layers="$CNN_LAYERS"
        if [ $cnn_torch = 1 ]; then
            # PyTorch at its best setting here: its OpenMP pool (oneDNN convolutions) on all threads,
            # OpenBLAS (its dense layers) on one, so the two pools do not fight over the cores
            OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$BENCH_DIR/torch_cnn.py" --arch small --epochs "$CNN_EPOCHS" \
                --threads "$THREADS" --seed "$r" --eval-every-epoch 0 --json "$tmp/cnnt$r.json" >/dev/null
            /usr/bin/python3 -c "import json,sys; print('\n'.join(str(s) for s in json.load(open(sys.argv[1]))['epoch_seconds']))" \
                "$tmp/cnnt$r.json" >>"$tmp/cnnt.s"
            $q "$tmp/cnnt$r.json" peak_rss_mb >>"$tmp/cnnt.rss"
            $q "$tmp/cnnt$r.json" test_accuracy >>"$tmp/cnnt.acc"
        fi
    done
    cnn_s=$(median <"$tmp/cnn.s")
    cnn_b=$(calc "$cnn_bound_ms / 1000 * $N / 100")
    header
    row dnn cnn "$cnn_fps"
    if [ $cnn_torch = 1 ]; then
        cnnt_s=$(median <"$tmp/cnnt.s")
        row PyTorch cnnt "$cnn_fps"
    fi
    printf '%-9s %10.3f %12s %10.1f\n' "sgemm" "$cnn_b" "" "$(calc "$N * $cnn_fps / $cnn_b / 1e9")"
    [ $cnn_torch = 1 ] && printf '\ndnn / PyTorch epoch time: %.2f\n' "$(calc "$cnn_s / $cnnt_s")"
    printf 'dnn / sgemm lower bound: %.2f\n' "$(calc "$cnn_s / $cnn_b")"
    echo "(medians over $RUNS runs x $CNN_EPOCHS epochs; test accuracy after $CNN_EPOCHS epochs; GFLOP/s of the same"
    echo " $(calc "$cnn_fps / 1e6") MFLOP of products per training sample for all three)"
fi

# CSV parsing: a generated 1,000,000 x 20 numeric file, dnn's reader against pandas' C engine
if want csv; then
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
fi

# Prediction through the C library (dnn_predict in libdnn.so, as an embedding program calls it) on the
# reference network after one epoch, against ONNX Runtime running the same model exported to ONNX
if want predict; then
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
fi
