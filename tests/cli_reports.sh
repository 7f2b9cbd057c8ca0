#!/usr/bin/env bash
# Reports, pictures and gates: well-formed SVG and HTML with one point per epoch, confusion heat maps,
# each quality gate failing exactly past its bound, and man pages that render.
. "$(dirname "$0")/lib.sh"
need_fmnist
cd "$T"
fmnist_subset train 2000 sub
fmnist_subset t10k 400 subtest
cat >rep.json <<'JSON'
{"seed": 4,
 "data": {"train": {"format": "idx", "images": "sub-images-idx3-ubyte"},
          "test": {"format": "idx", "images": "subtest-images-idx3-ubyte"}, "validation_split": 0.2},
 "model": {"layers": [{"type": "dense", "units": 32, "activation": "relu"}, {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": "adam", "training": {"epochs": 6, "batch_size": 50}}
JSON
expect 0 "train" -- "$DNNTRAIN" --config rep.json --quiet
for f in curves.svg report.html; do
    [ -s runs/rep/$f ] || fail "runs/rep/$f missing"
    xmllint --noout runs/rep/$f 2>"$T/xml" || fail "$f is not well-formed: $(head -3 "$T/xml")"
done
# loss and accuracy, training and validation: four series of 6 points each
[ "$(grep -c 'class="point"' runs/rep/curves.svg)" -eq 24 ] || fail "curves.svg: expected one point per epoch and series"
grep -q '>epoch<' runs/rep/curves.svg && grep -q '>accuracy<' runs/rep/curves.svg && grep -q '>loss<' runs/rep/curves.svg ||
    fail "curves.svg: axis labels"
# the page embeds the curves, a row per epoch, the test set's confusion matrix, and the config it ran with
html=runs/rep/report.html
grep -q '<svg' $html || fail "report.html: no embedded curves"
grep -q 'Confusion matrix' $html || fail "report.html: no confusion matrix"
[ "$(sed -n '/<h2>Epochs/,/<\/table>/p' $html | grep -c '<tr[^>]*><td>')" -eq 6 ] || fail "report.html: not one row per epoch"
sed -n '/<h2>Config/,/<\/pre>/p' $html | sed '1d; s/<pre>//; s/<\/pre>.*//; s/&quot;/"/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g' >html-config.json
[ "$("$JSON_QUERY" html-config.json seed)" = 4 ] && [ "$("$JSON_QUERY" html-config.json training.epochs)" = 6 ] &&
    [ "$("$JSON_QUERY" html-config.json model.layers.0.units)" = 32 ] || fail "report.html: the config section is not the run's config"
[ "$(grep -c 'class="cell"' runs/rep/report.html)" -eq 100 ] || fail "report.html: a 10 x 10 confusion matrix"
grep -q 'http' runs/rep/report.html && grep -v 'xmlns=' runs/rep/report.html | grep -q 'http' &&
    fail "report.html refers to the network"
grep -qi '<script' runs/rep/report.html && fail "report.html has JavaScript"
echo "report.html: $(wc -c <runs/rep/report.html) bytes" >&2

expect 0 "--plot" -- "$DNNEVAL" --model runs/rep/ckpt.bin --plot plots --json
cp "$T/out" eval.json
xmllint --noout plots/confusion.svg || fail "confusion.svg is not well-formed"
[ "$(grep -c 'class="cell"' plots/confusion.svg)" -eq 100 ] || fail "confusion.svg: 100 cells"

# each gate fails exactly when the value passes its bound
acc=$("$JSON_QUERY" eval.json accuracy)
loss=$("$JSON_QUERY" eval.json loss)
f1=$("$JSON_QUERY" eval.json macro_avg.f1)
above() { awk -v x="$1" 'BEGIN { printf "%.17g", x * (1 + 1e-12) + 1e-15 }'; }
below() { awk -v x="$1" 'BEGIN { printf "%.17g", x * (1 - 1e-12) - 1e-15 }'; }
expect 0 "--min-accuracy at the accuracy" -- "$DNNEVAL" --model runs/rep/ckpt.bin --min-accuracy "$acc" --quiet
expect 6 "--min-accuracy just above it" -- "$DNNEVAL" --model runs/rep/ckpt.bin --min-accuracy "$(above "$acc")" --quiet
err_has "quality gate failed: accuracy"
expect 0 "--max-loss at the loss" -- "$DNNEVAL" --model runs/rep/ckpt.bin --max-loss "$loss" --quiet
expect 6 "--max-loss just below it" -- "$DNNEVAL" --model runs/rep/ckpt.bin --max-loss "$(below "$loss")" --quiet
err_has "quality gate failed: loss"
expect 0 "--min-f1 at the macro F1" -- "$DNNEVAL" --model runs/rep/ckpt.bin --min-f1 "$f1" --quiet
expect 6 "--min-f1 just above it" -- "$DNNEVAL" --model runs/rep/ckpt.bin --min-f1 "$(above "$f1")" --quiet
err_has "quality gate failed: macro F1"
expect 6 "two gates fail, both are named" -- "$DNNEVAL" --model runs/rep/ckpt.bin --min-accuracy 1 --min-f1 1 --quiet
[ "$(grep -c 'quality gate failed' "$T/err")" -eq 2 ] || fail "each failed gate on its own line"

# regression gates, at and past their bounds
awk 'BEGIN { srand(1); print "a,b,y"; for (i = 0; i < 600; i++) { a = rand(); b = rand(); printf "%.5f,%.5f,%.5f\n", a, b, a - 2 * b + 0.1 * rand() } }' >r.csv
cat >r.json <<'JSON'
{"data": {"train": {"format": "csv", "path": "r.csv"}, "test": {"format": "csv", "path": "r.csv"}},
 "model": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dense", "units": 1}]},
 "loss": "mse", "optimizer": {"type": "adam", "learning_rate": 0.01}, "training": {"epochs": 10}}
JSON
expect 0 "train a regression" -- "$DNNTRAIN" --config r.json --quiet
[ "$(grep -c 'class="point"' runs/r/curves.svg)" -eq 10 ] || fail "a regression without validation: one loss series"
xmllint --noout runs/r/report.html || fail "regression report.html"
expect 0 "regression JSON" -- "$DNNEVAL" --model runs/r/ckpt.bin --json --plot rplots
r2=$("$JSON_QUERY" "$T/out" r2)
rmse=$("$JSON_QUERY" "$T/out" rmse)
xmllint --noout rplots/predictions.svg || fail "predictions.svg"
expect 0 "--min-r2 at R^2" -- "$DNNEVAL" --model runs/r/ckpt.bin --min-r2 "$r2" --quiet
expect 6 "--min-r2 just above it" -- "$DNNEVAL" --model runs/r/ckpt.bin --min-r2 "$(above "$r2")" --quiet
expect 0 "--max-rmse at the RMSE" -- "$DNNEVAL" --model runs/r/ckpt.bin --max-rmse "$rmse" --quiet
expect 6 "--max-rmse just below it" -- "$DNNEVAL" --model runs/r/ckpt.bin --max-rmse "$(below "$rmse")" --quiet

# --info and --version say what they should
expect 0 "--info" -- "$DNNEVAL" --model runs/rep/ckpt.bin --info
for s in "written by dnn" "parameters 25450" "classes    10" "epochs     6" "history:" '"layers"'; do
    grep -qF "$s" "$T/out" || fail "--info lacks: $s"
done
expect 0 "--version" -- "$DNNTRAIN" --threads 1 --version
grep -q "dnn) " "$T/out" && grep -q "OpenBLAS\|CBLAS" "$T/out" && grep -q "1 thread" "$T/out" || fail "--version: $(cat "$T/out")"

# the man pages render without warnings
if command -v man >/dev/null; then
    for p in dnntrain dnneval; do
        MANWIDTH=80 man --warnings -l "$SRC_DIR/man/$p.1" >man.txt 2>man.err || fail "man -l $p.1"
        [ -s man.err ] && fail "man $p.1 warns: $(head -3 man.err)"
        grep -q "EXIT STATUS" man.txt || fail "$p.1 rendered without its sections"
    done
else
    skip "the man page check: man is not installed (apt-get install man-db groff-base)"
fi

finish
