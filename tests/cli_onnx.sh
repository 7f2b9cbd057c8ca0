#!/usr/bin/env bash
# ONNX export end to end: models trained here are exported with dnneval --export and run in ONNX Runtime
# (onnxruntime-node): MLPs, and CNNs from IDX images and from CSV rows; onnx's checker (full_check) accepts
# each file, and ONNX Runtime's outputs match the C library's (examples/predict.c) and dnneval --predict's within 1e-5 relative, missing values included.
# ONNX Runtime comes from the npm registry into a cache folder (scripts/deps.sh): failing to install it fails
# this test, loudly.
. "$(dirname "$0")/lib.sh"
. "$SRC_DIR/scripts/deps.sh"
cd "$T"

ensure_onnxruntime || { echo "FAIL: ONNX Runtime is not installed and could not be installed" >&2; exit 1; }
export NODE_PATH=$DNN_NODE_CACHE/node_modules
/usr/bin/python3 -c 'import onnx, numpy' ||
    { echo "FAIL: /usr/bin/python3 lacks onnx or numpy: apt-get install python3-onnx (scripts/deps.sh does)" >&2; exit 1; }

AWK_GAUSS='function gauss() { return sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand()) }'

# check NAME CLASSES|regression: export runs/NAME/ckpt.bin, predict NAME-test.csv (features in the model's
# order, the label last) three ways, compare
check() {
    local name=$1 kind=$2 ckpt=runs/$1/ckpt.bin d
    d=$(($(head -1 "$name-test.csv" | tr ',' '\n' | wc -l) - ${3:-1}))
    expect 0 "$name: export" -- "$DNNEVAL" --model "$ckpt" --export "$name.onnx"
    grep -q "input \"input\" float \[N, $d\]" "$T/out" || fail "$name: the export's summary: $(cat "$T/out")"
    expect 0 "$name: dnneval --predict" -- "$DNNEVAL" --model "$ckpt" --data "$name-test.csv" --predict "$name-pred.csv" --quiet
    tail -n +2 "$name-test.csv" | cut -d, -f1-"$d" >"$name-rows.csv"
    expect 0 "$name: the library (examples/predict.c)" -- sh -c "'$PREDICT_EXAMPLE' '$ckpt' <'$name-rows.csv' >'$name-lib.csv'"
    expect 0 "$name: ONNX Runtime" -- sh -c "node '$SRC_DIR/tests/onnx_run.js' '$name.onnx' '$name-rows.csv' >'$name-ort.csv'"
    expect 0 "$name: onnx checker and comparison" -- /usr/bin/python3 "$SRC_DIR/tests/onnx_check.py" "$name.onnx" \
        "$name-pred.csv" "$name-lib.csv" "$name-ort.csv" "$d" "$kind"
    sed "s/^/$name: /" "$T/out" >&2
}

# 1. an MLP classifier: three classes by name, standardised inputs, relu and softmax
awk "$AWK_GAUSS"' BEGIN { srand(11); split("setosa virginica versicolor", n, " "); print "sepal,petal,width,species";
    for (i = 0; i < 900; i++) { c = i % 3; printf "%.5f,%.5f,%.5f,%s\n", 4 * c + gauss(), 3 - 4 * c + gauss(), 2 * gauss(), n[c + 1] } }' >blobs.csv
head -601 blobs.csv >blobs-train.csv
{ head -1 blobs.csv; tail -n 300 blobs.csv; } >mlp-test.csv
cat >mlp.json <<'JSON'
{"seed": 3, "data": {"train": {"format": "csv", "path": "blobs-train.csv", "label": "species"},
                     "normalize": "standardize"},
 "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"},
                      {"type": "dense", "units": 3, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.01}, "training": {"epochs": 10, "batch_size": 32}}
JSON
expect 0 "mlp: train" -- "$DNNTRAIN" --config mlp.json --quiet
check mlp setosa,versicolor,virginica

# a model trained to refuse missing values: ONNX has no error to raise, so NaN comes out; the library refuses
printf '1.5,,0.2\n' >nan-row.csv
expect 0 "mlp: a missing value through ONNX Runtime" -- node "$SRC_DIR/tests/onnx_run.js" mlp.onnx nan-row.csv
grep -q '^NaN,NaN,NaN$' "$T/out" || fail "ONNX Runtime's output for a missing value: $(cat "$T/out")"
expect 3 "mlp: a missing value through the library" -- sh -c "'$PREDICT_EXAMPLE' runs/mlp/ckpt.bin <nan-row.csv"
err_has 'feature 1 ("petal") is missing' 'data.missing "error"'

# 2. a regression with missing values (mean-filled), standardised inputs and two targets in their own units
awk "$AWK_GAUSS"' BEGIN { srand(5); print "x1,x2,x3,y,z";
    for (i = 0; i < 1600; i++) { a = 2 * rand() - 1; b = 2 * rand() - 1; c = 50 + 10 * gauss();
        y = 3 * a - 2 * b + 0.1 * c + 0.2 * gauss(); z = 1000 + 100 * a * b;
        printf "%s,%s,%s,%.6f,%.6f\n", rand() < 0.1 ? "" : sprintf("%.6f", a), rand() < 0.1 ? "NA" : sprintf("%.6f", b),
               rand() < 0.1 ? "" : sprintf("%.4f", c), y, z } }' >reg.csv
head -1201 reg.csv >reg-train.csv
{ head -1 reg.csv; tail -n 400 reg.csv; } | sed 's/NA//g' >regression-test.csv
cat >regression.json <<'JSON'
{"seed": 1, "data": {"train": {"format": "csv", "path": "reg-train.csv", "label": ["y", "z"], "missing": "mean"},
                     "normalize": "standardize"},
 "model": {"layers": [{"type": "dense", "units": 16, "activation": "leaky_relu", "negative_slope": 0.05},
                      {"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dense", "units": 2}]},
 "loss": "mse", "optimizer": {"type": "adam", "learning_rate": 0.01}, "training": {"epochs": 15, "batch_size": 64}}
JSON
expect 0 "regression: train" -- "$DNNTRAIN" --config regression.json --quiet
check regression regression 2

# 3. batchnorm, dropout, gelu and one sigmoid unit for two classes; median-filled missing values, min-max scaled
awk "$AWK_GAUSS"' BEGIN { srand(9); print "u,v,w,churn";
    for (i = 0; i < 1200; i++) { c = i % 2; printf "%s,%.5f,%.3f,%s\n", rand() < 0.08 ? "" : sprintf("%.5f", 2 * c + gauss()),
        -c + gauss(), 200 * rand(), c ? "yes" : "no" } }' >bin.csv
head -901 bin.csv >bin-train.csv
{ head -1 bin.csv; tail -n 300 bin.csv; } >batchnorm-test.csv
cat >batchnorm.json <<'JSON'
{"seed": 4, "data": {"train": {"format": "csv", "path": "bin-train.csv", "missing": "median"}, "normalize": "scale"},
 "model": {"layers": [{"type": "dense", "units": 12, "activation": "gelu"}, {"type": "batchnorm"},
                      {"type": "dropout", "rate": 0.2}, {"type": "dense", "units": 6, "activation": "sigmoid"},
                      {"type": "batchnorm"}, {"type": "dense", "units": 1, "activation": "sigmoid"}]},
 "loss": "binary_cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.01},
 "training": {"epochs": 8, "batch_size": 32}}
JSON
expect 0 "batchnorm: train" -- "$DNNTRAIN" --config batchnorm.json --quiet
check batchnorm no,yes

# 4. IDX images: 784 pixel features as bytes, scaled by 255
if [ -r "$FMNIST/train-images-idx3-ubyte.gz" ]; then
    fmnist_subset train 2000 fm
    fmnist_subset t10k 200 fmt
    cat >fmnist.json <<JSON
{"seed": 2, "data": {"train": {"format": "idx", "images": "$T/fm-images-idx3-ubyte"}, "normalize": "scale"},
 "model": {"layers": [{"type": "dense", "units": 64, "activation": "relu"}, {"type": "dropout", "rate": 0.1},
                      {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam"}, "training": {"epochs": 2, "batch_size": 50}}
JSON
    expect 0 "fmnist: train" -- "$DNNTRAIN" --config fmnist.json --quiet
    # the same images as CSV rows: 784 pixel values, then the label
    tail -c +17 fmt-images-idx3-ubyte | od -An -v -tu1 -w784 | sed 's/^ *//; s/  */,/g' >px.csv
    tail -c +9 fmt-labels-idx1-ubyte | od -An -v -tu1 -w1 | tr -d ' ' | paste -d, px.csv - >fmnist-test.csv
    sed -i "1s/^/$(seq -f 'p%g' -s, 0 783),label\n/" fmnist-test.csv # dnneval takes the columns by position
    expect 0 "fmnist: dnneval on the IDX file and on its CSV agree" -- sh -c \
        "'$DNNEVAL' --model runs/fmnist/ckpt.bin --data fmt-images-idx3-ubyte --predict idx-pred.csv --quiet &&
         '$DNNEVAL' --model runs/fmnist/ckpt.bin --data fmnist-test.csv --predict csv-pred.csv --quiet &&
         cmp idx-pred.csv csv-pred.csv"
    check fmnist 0,1,2,3,4,5,6,7,8,9

    # 5. a CNN on the same images: per-channel batchnorm, max and average pooling, a strided 'same'
    # convolution (one padding row and column after, none before), dropout, flatten
    cat >cnn.json <<JSON
{"seed": 2, "data": {"train": {"format": "idx", "images": "$T/fm-images-idx3-ubyte"}, "normalize": "scale"},
 "model": {"layers": [{"type": "conv2d", "filters": 6, "kernel_size": 3, "padding": "same", "activation": "relu"},
                      {"type": "batchnorm"}, {"type": "maxpool2d", "pool_size": 2},
                      {"type": "conv2d", "filters": 8, "kernel_size": 3, "stride": 2, "padding": "same",
                       "activation": "leaky_relu"}, {"type": "dropout", "rate": 0.1},
                      {"type": "avgpool2d", "pool_size": 3, "stride": 2}, {"type": "flatten"},
                      {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.003}, "training": {"epochs": 2, "batch_size": 50}}
JSON
    expect 0 "cnn: train" -- "$DNNTRAIN" --config cnn.json --quiet
    cp fmnist-test.csv cnn-test.csv
    check cnn 0,1,2,3,4,5,6,7,8,9
else
    echo "note: Fashion-MNIST is not installed; the IDX model is left out (apt-get install dataset-fashion-mnist)" >&2
fi

# 6. two-channel 6x6 images as CSV rows (data.shape), standardised, with mean-filled gaps: a 3x2 kernel with
# explicit padding of rows alone, batchnorm per channel, global average pooling
awk "$AWK_GAUSS"' BEGIN { srand(13); for (j = 0; j < 72; j++) printf "p%d,", j; print "label";
    for (i = 0; i < 800; i++) { c = i % 3; for (j = 0; j < 72; j++) { ch = int(j / 36); r = int((j % 36) / 6);
        v = gauss() + (c == 0 && ch == 0 && r < 3 ? 2 : 0) + (c == 1 && ch == 1 ? 1.5 : 0) + (c == 2 && r >= 3 ? 1.5 : 0);
        printf "%s,", rand() < 0.03 ? "" : sprintf("%.4f", v) } print "k" c } }' >img.csv
head -601 img.csv >img-train.csv
{ head -1 img.csv; tail -n 200 img.csv; } >images-test.csv
cat >images.json <<'JSON'
{"seed": 6, "data": {"train": {"format": "csv", "path": "img-train.csv", "label": "label", "missing": "mean"},
                     "shape": [2, 6, 6], "normalize": "standardize"},
 "model": {"layers": [{"type": "conv2d", "filters": 4, "kernel_size": [3, 2], "padding": [1, 0], "activation": "tanh"},
                      {"type": "batchnorm"}, {"type": "global_avgpool"},
                      {"type": "dense", "units": 3, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.01}, "training": {"epochs": 5, "batch_size": 32}}
JSON
expect 0 "images: train" -- "$DNNTRAIN" --config images.json --quiet
check images k0,k1,k2

# a bad destination is an I/O error that names it; --export takes no scoring flags
expect 4 "export into a missing folder" -- "$DNNEVAL" --model runs/mlp/ckpt.bin --export no/such/dir/m.onnx
err_has "no/such/dir/m.onnx"
expect 2 "export with --data" -- "$DNNEVAL" --model runs/mlp/ckpt.bin --export m.onnx --data mlp-test.csv
err_has "--export writes the model and scores nothing"
finish
