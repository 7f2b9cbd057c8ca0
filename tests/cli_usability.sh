#!/usr/bin/env bash
# The smaller things people hit: --set in the bracket form, Excel's trailing delimiters, IDX data without
# labels, gate bounds and gates on unlabelled data, resuming a finished run, TERM=dumb, --version's thread
# count, dnneval --verbose, multi-target plots, and what report.html shows.
. "$(dirname "$0")/lib.sh"
need_fmnist
cd "$T"
fmnist_subset train 600 sub
fmnist_subset t10k 200 subtest
cat >small.json <<'JSON'
{"seed": 1,
 "data": {"train": {"format": "idx", "images": "sub-images-idx3-ubyte"},
          "test": {"format": "idx", "images": "subtest-images-idx3-ubyte"}, "validation_split": 0.2},
 "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"}, {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": "adam", "training": {"epochs": 3, "batch_size": 50},
 "output": {"save_best": true}}
JSON

# --set takes the bracket form its messages print, and a bad override is blamed on --set
expect 0 "--set model.layers[0].units=8" -- "$DNNTRAIN" --config small.json --set 'model.layers[0].units=8' --out set --quiet
expect 0 "its shape" -- "$DNNEVAL" --model set/ckpt.bin --info
grep -q "dense 8 relu  *8  *6280" "$T/out" || fail "--set in the bracket form did not apply: $(grep layers "$T/out")"
expect 2 "a bad override" -- "$DNNTRAIN" --config small.json --set 'model.layers[0].unitz=8' --out bad
err_has "model.layers[0].unitz" "from --set model.layers[0].unitz=8"
expect 2 "an unclosed bracket" -- "$DNNTRAIN" --config small.json --set 'model.layers[0.units=8' --out bad
err_has "--set model.layers[0.units=8"
expect 2 "a layer replaced by a wrong value" -- "$DNNTRAIN" --config small.json --set 'model.layers.1=5' --out bad
err_has "model.layers[1]: expected a layer object"
grep -q 'model.layers\[1\]\[0\]' "$T/err" && fail "the path of an array element is rendered with a stray [0]"

# Excel writes a delimiter at the end of every line: the empty column is no column
awk 'BEGIN { srand(2); print "u,v,label,"; for (i = 0; i < 300; i++) { c = i % 2; printf "%.4f,%.4f,%s,\n", c + rand(), rand(), c ? "yes" : "no" } }' >excel.csv
cat >excel.json <<'JSON'
{"seed": 1, "data": {"train": {"path": "excel.csv"}},
 "model": {"layers": [{"type": "dense", "units": 2, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.05}, "training": {"epochs": 20}}
JSON
expect 0 "a trailing delimiter on every line" -- "$DNNTRAIN" --config excel.json --out excel --quiet
expect 0 "its classes" -- "$DNNEVAL" --model excel/ckpt.bin --data excel.csv --json
[ "$("$JSON_QUERY" "$T/out" classes.1)" = yes ] && ge "$("$JSON_QUERY" "$T/out" accuracy)" 0.9 ||
    fail "the label is not \"label\": classes $("$JSON_QUERY" "$T/out" classes.0), accuracy $("$JSON_QUERY" "$T/out" accuracy)"

# IDX images without a labels file: predictions only, as for CSV
expect 0 "train" -- "$DNNTRAIN" --config small.json --out idx --quiet
cp subtest-images-idx3-ubyte unlabelled-images-idx3-ubyte
expect 0 "IDX without labels, --predict -" -- "$DNNEVAL" --model idx/ckpt.bin --data unlabelled-images-idx3-ubyte --predict -
[ "$(wc -l <"$T/out")" -eq 201 ] || fail "200 predictions and a header"
err_has "predict-only"
cp subtest-images-idx3-ubyte oddname.idx
expect 0 "IDX whose name pairs with no labels file" -- "$DNNEVAL" --model idx/ckpt.bin --data oddname.idx --json
[ "$("$JSON_QUERY" "$T/out" labelled)" = false ] || fail "oddname.idx is scored as labelled"

# gate bounds are checked, and a gate on unlabelled data fails saying why
expect 2 "--min-accuracy 95" -- "$DNNEVAL" --model idx/ckpt.bin --min-accuracy 95
err_has "--min-accuracy" "from 0 to 1" "95"
expect 2 "--max-rmse -1" -- "$DNNEVAL" --model idx/ckpt.bin --max-rmse -1
err_has "--max-rmse" "at least 0"
expect 6 "a gate on unlabelled data" -- "$DNNEVAL" --model idx/ckpt.bin --data oddname.idx --min-accuracy 0.5 --quiet
err_has "quality gate failed" "no labels"
grep -q "nan" "$T/err" && fail "the gate message shows nan: $(cat "$T/err")"

# resuming a finished run says there is nothing to do, and changes nothing
cp idx/ckpt.bin before.bin
expect 0 "resume a finished run" -- "$DNNTRAIN" --resume idx/ckpt.bin
err_has "finished" "nothing to do" "training.epochs"
cmp -s before.bin idx/ckpt.bin || fail "resuming a finished run rewrote its checkpoint"

# TERM=dumb gets no escape sequences, even on a terminal
script -qec "TERM=dumb '$DNNTRAIN' --config small.json --out dumb" /dev/null >dumb.txt 2>&1 </dev/null
grep -q "epoch 3" dumb.txt || fail "no progress under script(1): $(head -3 dumb.txt)"
grep -q $'\033' dumb.txt && fail "TERM=dumb got escape sequences"
script -qec "TERM=xterm '$DNNTRAIN' --config small.json --out xterm" /dev/null >xterm.txt 2>&1 </dev/null
grep -q $'\033\\[K' xterm.txt || fail "a real terminal gets the progress bar"

# --version after --threads or before it
expect 0 "--version --threads 1" -- "$DNNTRAIN" --version --threads 1
grep -q "1 thread$" "$T/out" || fail "--version --threads 1: $(tail -1 "$T/out")"

# dnneval --verbose says what it loaded and how it matched the data
expect 0 "dnneval --verbose" -- "$DNNEVAL" --model excel/ckpt.bin --data excel.csv --verbose --quiet
err_has "classification model" "300 samples of 2 features" "by column name" 'target column "label"' "the first row is a header"

# a regression of two targets plots both
awk 'BEGIN { srand(4); print "a,b,y,z"; for (i = 0; i < 400; i++) { a = rand(); b = rand(); printf "%.4f,%.4f,%.4f,%.4f\n", a, b, a + b, a - b } }' >two.csv
cat >two.json <<'JSON'
{"seed": 1, "data": {"train": {"path": "two.csv", "label": ["y", "z"]}},
 "model": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dense", "units": 2}]},
 "loss": "mse", "optimizer": {"type": "adam", "learning_rate": 0.02}, "training": {"epochs": 10}}
JSON
expect 0 "a two-target regression" -- "$DNNTRAIN" --config two.json --out two --quiet
expect 0 "--plot" -- "$DNNEVAL" --model two/ckpt.bin --data two.csv --plot twoplots --quiet
grep -q 'data-target="y"' twoplots/predictions.svg && grep -q 'data-target="z"' twoplots/predictions.svg ||
    fail "predictions.svg does not show both targets"
xmllint --noout twoplots/predictions.svg || fail "predictions.svg is not well-formed"

# report.html: the test score in the summary, the best epoch on the curves, only the columns a run has,
# the folder it really wrote in its config, two-space indentation
expect 0 "a run with --out" -- "$DNNTRAIN" --config small.json --out elsewhere --quiet
h=elsewhere/report.html
grep -q '<th>test set</th><td>accuracy 0' $h || fail "report.html: no test accuracy in the summary"
grep -q 'class="best"' elsewhere/curves.svg || fail "curves.svg does not mark the best epoch"
grep -q '&quot;dir&quot;: &quot;elsewhere&quot;' $h || fail "report.html's config does not say where the run was written"
grep -q $'\t' $h && fail "report.html indents with tabs"
grep -q '^  "dnn_version"' elsewhere/report.json || fail "report.json is not indented by two spaces"
grep -q '<th>val_loss</th>' two/report.html && fail "a run without validation shows validation columns"
grep -q '<th>accuracy</th>' two/report.html && fail "a regression shows accuracy columns"
grep -q '>validation<' two/curves.svg && fail "a run without validation has a validation legend"
grep -q '<th>test set</th>' two/report.html && fail "a run without a test set claims a test score"
finish
