#!/usr/bin/env bash
# Explanations end to end on a table where only two known columns decide the class: every method ranks them
# first; the same numbers from 1 and 2 threads; the bar chart; groups; malformed flags.
. "$(dirname "$0")/lib.sh"
cd "$T"

# 6 columns; the class is the sign of a + 2c (b, d, e, f are noise the label never sees)
awk 'BEGIN { srand(11); print "a,b,c,d,e,f,label"
    for (i = 0; i < 800; i++) {
        for (j = 0; j < 6; j++) v[j] = sprintf("%.4f", 2 * rand() - 1)
        print v[0] "," v[1] "," v[2] "," v[3] "," v[4] "," v[5] "," (v[0] + 2 * v[2] > 0 ? "yes" : "no") } }' >t.csv
cat >t.json <<'JSON'
{"seed": 5,
 "data": {"train": {"format": "csv", "path": "t.csv", "label": "label"}, "validation_split": 0.2, "normalize": "standardize"},
 "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"},
                      {"type": "dense", "units": 2, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.02},
 "training": {"epochs": 30, "batch_size": 32}}
JSON
expect 0 "train on the synthetic table" -- "$DNNTRAIN" --config t.json --out run --quiet --threads 1
all=permutation,saliency,integrated_gradients
expect 0 "explain by every method" -- "$DNNEVAL" --model run/ckpt.bin --data t.csv --explain $all --sanity \
    --report r1.json --plot plots --threads 1
for m in permutation saliency integrated_gradients; do
    top=$("$JSON_QUERY" r1.json explanation.$m.features.0.name)$("$JSON_QUERY" r1.json explanation.$m.features.1.name)
    [ "$top" = ca ] || fail "$m ranks $top first, not c then a"
done
grep -q "permutation importance (drop of accuracy" "$T/out" && grep -q "completeness (50-point Gauss-Legendre)" "$T/out" ||
    fail "the text report lacks the explanation: $(cat "$T/out")"
rel=$("$JSON_QUERY" r1.json explanation.integrated_gradients.completeness.max_rel)
ge 0.01 "$rel" || err_has "warning: integrated gradients are incomplete"
rho=$("$JSON_QUERY" r1.json explanation.saliency.sanity.spearman)
ge 0.5 "$rho" && pass "saliency's rank correlation with a random network: $rho" ||
    fail "saliency of the trained and a random network correlate at $rho"
[ "$(grep -c 'class="bar"' plots/importance.svg)" -eq 18 ] && [ "$(grep -c 'class="err"' plots/importance.svg)" -eq 18 ] ||
    fail "importance.svg: 3 panels of 6 bars with error bars"
[ -s plots/confusion.svg ] || fail "--plot with --explain still draws the confusion matrix"

# the same numbers from 2 threads (all but the times)
expect 0 "2 threads" -- "$DNNEVAL" --model run/ckpt.bin --data t.csv --explain $all --sanity --report r2.json --threads 2
diff <(grep -v '"seconds"\|samples_per_second' r1.json) <(grep -v '"seconds"\|samples_per_second' r2.json) >/dev/null ||
    fail "the explanation depends on the thread count"

# groups: a and c together; the rest alone
echo '{"signal": ["a", "c"]}' >g.json
expect 0 "--groups" -- "$DNNEVAL" --model run/ckpt.bin --data t.csv --explain permutation --groups g.json --repeats 3 --json
[ "$("$JSON_QUERY" "$T/out" explanation.permutation.features.0.name)" = signal ] &&
    [ "$("$JSON_QUERY" "$T/out" explanation.permutation.features.0.columns)" = '["a","c"]' ] &&
    [ "$("$JSON_QUERY" "$T/out" explanation.permutation.repeats)" = 3 ] || fail "--groups: $(cat "$T/out")"
# loss scoring and a target class; baseline from a file
expect 0 "--scoring loss, --target, --baseline FILE" -- "$DNNEVAL" --model run/ckpt.bin --data t.csv \
    --explain permutation,integrated_gradients --scoring loss --target no --baseline t.csv --steps 20 --json
[ "$("$JSON_QUERY" "$T/out" explanation.permutation.scoring)" = loss ] &&
    [ "$("$JSON_QUERY" "$T/out" explanation.integrated_gradients.target)" = no ] &&
    [ "$("$JSON_QUERY" "$T/out" explanation.integrated_gradients.baseline)" = file ] || fail "options: $(cat "$T/out")"

# bad values: exit 2 naming the flag; missing files 4; no labels for permutation 3
m=(--model run/ckpt.bin --data t.csv)
expect 2 "unknown method" -- "$DNNEVAL" "${m[@]}" --explain saliency,shap
err_has '--explain: expected permutation, saliency or integrated_gradients' '"shap"'
expect 2 "misspelt method" -- "$DNNEVAL" "${m[@]}" --explain salience
err_has "did you mean saliency?"
expect 2 "empty method" -- "$DNNEVAL" "${m[@]}" --explain saliency,
expect 2 "--repeats 0" -- "$DNNEVAL" "${m[@]}" --explain permutation --repeats 0
err_has "--repeats"
expect 2 "--steps x" -- "$DNNEVAL" "${m[@]}" --explain integrated_gradients --steps x
err_has "--steps"
expect 2 "trapezoid with one step" -- "$DNNEVAL" "${m[@]}" --explain integrated_gradients --ig-method riemann_trapezoid --steps 1
err_has "--steps: the trapezoid rule needs at least 2 points"
expect 2 "--ig-method" -- "$DNNEVAL" "${m[@]}" --explain integrated_gradients --ig-method simpson
err_has "gausslegendre or riemann_trapezoid"
expect 2 "--scoring" -- "$DNNEVAL" "${m[@]}" --explain permutation --scoring f1
err_has "--scoring: expected accuracy, r2 or loss"
expect 2 "--scoring r2 of a classifier" -- "$DNNEVAL" "${m[@]}" --explain permutation --scoring r2
err_has "--scoring r2 does not apply to a classification model"
expect 2 "--target" -- "$DNNEVAL" "${m[@]}" --explain saliency --target maybe
err_has '--target: expected a class of the model' '"maybe"'
expect 2 "--explain-samples -1" -- "$DNNEVAL" "${m[@]}" --explain saliency --explain-samples -1
expect 2 "flags without --explain" -- "$DNNEVAL" "${m[@]}" --steps 10
err_has "need --explain METHODS"
expect 4 "a missing groups file" -- "$DNNEVAL" "${m[@]}" --explain permutation --groups none.json
echo '{"signal": ["a", "z"]}' >bad.json
expect 2 "a group naming no column" -- "$DNNEVAL" "${m[@]}" --explain permutation --groups bad.json
err_has 'bad.json: group "signal": the model has no column "z"'
expect 4 "a missing baseline file" -- "$DNNEVAL" "${m[@]}" --explain integrated_gradients --baseline none.csv
cut -d, -f1-6 t.csv >nolabel.csv
expect 3 "permutation needs labels" -- "$DNNEVAL" --model run/ckpt.bin --data nolabel.csv --explain permutation
err_has "permutation importance needs the data's labels"
expect 0 "saliency does not" -- "$DNNEVAL" --model run/ckpt.bin --data nolabel.csv --explain saliency --json
expect 2 "--export explains nothing" -- "$DNNEVAL" --model run/ckpt.bin --export m.onnx --explain saliency
finish
