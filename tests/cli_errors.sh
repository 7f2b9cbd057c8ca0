#!/usr/bin/env bash
# Bad invocations, configs, data and checkpoints: each gets the exit code of SPEC.md and a message that
# names the file (and field, line or offset).
. "$(dirname "$0")/lib.sh"
cd "$T"

# tiny IDX data written here: 20 images of 2x2, labels 0..3
{ printf '\x00\x00\x08\x03'; be32 20; be32 2; be32 2; head -c 80 /dev/urandom; } >d-images-idx3-ubyte
{ printf '\x00\x00\x08\x01'; be32 20; for i in $(seq 0 19); do printf "\\x0$((i % 4))"; done; } >d-labels-idx1-ubyte
cat >good.json <<'JSON'
{"data": {"train": {"format": "idx", "images": "d-images-idx3-ubyte"}},
 "model": {"layers": [{"type": "dense", "units": 4, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "sgd", "learning_rate": 0.1},
 "training": {"epochs": 2, "batch_size": 8}}
JSON
expect 0 "a good config trains" -- "$DNNTRAIN" --config good.json --quiet
[ -s "$T/err" ] && fail "--quiet printed on stderr"

# invocation
expect 2 "unknown flag" -- "$DNNTRAIN" --confg good.json
err_has "unknown option --confg" "did you mean --config?"
expect 2 "unknown dnneval flag" -- "$DNNEVAL" --modle x.bin
err_has "did you mean --model?"
expect 2 "no config" -- "$DNNTRAIN"
err_has "--config"
expect 2 "flag without its value" -- "$DNNTRAIN" --config
err_has "--config needs a value"
expect 2 "bad --threads" -- "$DNNTRAIN" --config good.json --threads many
err_has "--threads" "many"
expect 2 "stray argument" -- "$DNNTRAIN" --config good.json extra
err_has "unexpected argument \"extra\""
expect 2 "bad gate value" -- "$DNNEVAL" --model runs/good/ckpt.bin --min-accuracy high
expect 0 "--help" -- "$DNNTRAIN" --help
for f in config resume out set threads seed quiet verbose help version; do grep -q -- "--$f" "$T/out" || fail "--help lacks --$f"; done
expect 0 "--flag=value form" -- "$DNNTRAIN" --config=good.json --out=runs/eq --quiet
expect 0 "--version" -- "$DNNEVAL" --version
grep -q "BLAS" "$T/out" || fail "--version names the BLAS"

# configs
expect 2 "missing config file" -- "$DNNTRAIN" --config nope.json
err_has "nope.json"
printf '{"data": {\n  "train": 3,,\n}' >broken.json
expect 2 "invalid JSON" -- "$DNNTRAIN" --config broken.json
err_has "broken.json:2:" "invalid JSON"
sed 's/"epochs": 2/"epochs": 2, "epohcs": 3/' good.json >typo.json
expect 2 "unknown key" -- "$DNNTRAIN" --config typo.json
err_has "typo.json: training.epohcs: unknown key" "did you mean \"epochs\""
expect 2 "bad --set" -- "$DNNTRAIN" --config good.json --set model.layers.0.units=four
err_has "good.json: model.layers[0].units: expected a positive integer, got \"four\"" "from --set"
expect 2 "unknown activation" -- "$DNNTRAIN" --config good.json --set model.layers.0.activation=softmaxx
err_has "model.layers[0].activation" "did you mean \"softmax\""

# data
expect 4 "missing data file" -- "$DNNTRAIN" --config good.json --out runs/bad --set data.train.images=missing-images-idx3-ubyte
err_has "missing-images-idx3-ubyte" "cannot open"
printf 'PK\x03\x04not idx at all' >zip-images-idx3-ubyte
cp d-labels-idx1-ubyte zip-labels-idx1-ubyte
expect 3 "wrong magic" -- "$DNNTRAIN" --config good.json --out runs/bad --set data.train.images=zip-images-idx3-ubyte
err_has "zip-images-idx3-ubyte" "byte 0" "bad magic"
head -c 50 d-images-idx3-ubyte >cut-images-idx3-ubyte
cp d-labels-idx1-ubyte cut-labels-idx1-ubyte
expect 3 "truncated data" -- "$DNNTRAIN" --config good.json --out runs/bad --set data.train.images=cut-images-idx3-ubyte
err_has "cut-images-idx3-ubyte" "truncated"
expect 3 "label out of range" -- "$DNNTRAIN" --config good.json --out runs/bad --set model.layers.0.units=3
err_has "d-labels-idx1-ubyte" "label 3" "out of range" "3 classes"

# outputs
touch afile
expect 4 "output folder is a file" -- "$DNNTRAIN" --config good.json --out afile/run
err_has "afile"
[ -e runs/good/report.json ] || fail "the first run's report"

mkdir -p runs/dirckpt/ckpt.bin
expect 4 "ckpt.bin is a folder" -- "$DNNTRAIN" --config good.json --out runs/dirckpt
err_has "runs/dirckpt/ckpt.bin" "cannot replace"
ls -a runs/dirckpt | grep -q '\.tmp\.' && fail "a temporary file was left behind"

# bounded resources: sizes are checked against the memory limit before anything is allocated
expect 2 "a network too large for memory" -- "$DNNTRAIN" --config good.json --out runs/bad --set model.layers.0.units=2000000000
err_has "good.json" "the network needs" "parameters" "more than the memory limit" "--max-memory"
expect 2 "--max-memory refuses a small network" -- "$DNNTRAIN" --config good.json --out runs/bad --max-memory 1K --set data.train.images=\"d-images-idx3-ubyte\"
err_has "the network needs" "set by --max-memory"
expect 2 "a bad --max-memory" -- "$DNNTRAIN" --config good.json --out runs/bad --max-memory lots
err_has "--max-memory" "lots"
{ printf '\x00\x00\x08\x03'; be32 4000; be32 28; be32 28; head -c $((4000 * 784)) /dev/zero; } >big-images-idx3-ubyte
{ printf '\x00\x00\x08\x01'; be32 4000; head -c 4000 /dev/zero; } >big-labels-idx1-ubyte
expect 3 "data larger than --max-memory, not to stream" -- "$DNNTRAIN" --config good.json --out runs/bad \
    --set data.train.images=big-images-idx3-ubyte --set data.train.stream=false --max-memory 1M
err_has "big-images-idx3-ubyte" "more than the memory limit of 1.0 MiB"
expect 0 "data larger than --max-memory streams (\"stream\": \"auto\")" -- "$DNNTRAIN" --config good.json --out runs/bigs \
    --set data.train.images=big-images-idx3-ubyte --set model.layers.0.units=10 --max-memory 1M
err_has "big-images-idx3-ubyte" "more than half the memory limit of 1.0 MiB: streaming it"
expect 0 "the same data under a higher limit" -- "$DNNTRAIN" --config good.json --set data.train.images=big-images-idx3-ubyte \
    --set model.layers.0.units=10 --max-memory 64M --out runs/big --quiet

# divergence: exit 5, named epoch and batch, the last good checkpoint untouched
expect 0 "a run to diverge from" -- "$DNNTRAIN" --config good.json --out runs/div --set data.normalize=\"none\" --quiet
cp runs/div/ckpt.bin before.bin
expect 5 "huge learning rate diverges" -- "$DNNTRAIN" --resume runs/div/ckpt.bin --set training.epochs=3 \
    --set optimizer.learning_rate=1e38
err_has "diverged at epoch 3" "batch" "learning_rate"
cmp -s before.bin runs/div/ckpt.bin || fail "divergence touched the last good checkpoint"

# checkpoints
expect 0 "evaluate on the training data" -- "$DNNEVAL" --model runs/good/ckpt.bin --data d-images-idx3-ubyte --quiet
cp runs/good/ckpt.bin flip.bin
printf '\xff' | dd of=flip.bin bs=1 seek=200 conv=notrunc 2>/dev/null
expect 4 "bit-flipped checkpoint" -- "$DNNEVAL" --model flip.bin --data d-images-idx3-ubyte
err_has "flip.bin" "checksum mismatch"
head -c 300 runs/good/ckpt.bin >short.bin
expect 4 "truncated checkpoint" -- "$DNNEVAL" --model short.bin --data d-images-idx3-ubyte
err_has "short.bin" "truncated"
expect 4 "foreign file as checkpoint" -- "$DNNEVAL" --model good.json --data d-images-idx3-ubyte
err_has "good.json" "not a dnn checkpoint"
expect 4 "missing checkpoint" -- "$DNNEVAL" --model none.bin
err_has "none.bin"
expect 2 "no test set and no --data" -- "$DNNEVAL" --model runs/good/ckpt.bin
err_has "runs/good/ckpt.bin" "--data"
{ printf '\x00\x00\x08\x03'; be32 20; be32 3; be32 3; head -c 180 /dev/zero; } >wide-images-idx3-ubyte
expect 3 "data of another shape" -- "$DNNEVAL" --model runs/good/ckpt.bin --data wide-images-idx3-ubyte --labels d-labels-idx1-ubyte
err_has "wide-images-idx3-ubyte" "9 features" "takes 4"

finish
