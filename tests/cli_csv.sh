#!/usr/bin/env bash
# CSV end to end on data written here: string classes, regression with a known R^2, a binary sigmoid model,
# missing cells under each policy, and the stdin-to-stdout prediction pipeline.
. "$(dirname "$0")/lib.sh"
cd "$T"

# gauss(): a standard normal draw in awk (Box-Muller)
AWK_GAUSS='function gauss() { return sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand()) }'

# three Gaussian blobs with string class names, an id column, a quoted text column
awk "$AWK_GAUSS"' BEGIN { srand(11); split("setosa virginica versicolor", n, " ");
    print "id,sepal,petal,width,note,species";
    for (i = 0; i < 900; i++) { c = i % 3; printf "%d,%.5f,%.5f,%.5f,\"a, b\",%s\n", i, 4 * c + gauss(), 3 - 4 * c + gauss(), gauss(), n[c + 1] } }' >blobs.csv
head -601 blobs.csv >blobs-train.csv
{ head -1 blobs.csv; tail -n 300 blobs.csv; } >blobs-test.csv
cat >blobs.json <<'JSON'
{"seed": 3,
 "data": {"train": {"format": "csv", "path": "blobs-train.csv", "label": "species", "ignore": ["id", "note"]},
          "test": {"format": "csv", "path": "blobs-test.csv", "label": "species"},
          "validation_split": 0.2, "normalize": "standardize"},
 "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"},
                      {"type": "dense", "units": 3, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.01},
 "training": {"epochs": 30, "batch_size": 32}}
JSON
expect 0 "train on blobs with class names" -- "$DNNTRAIN" --config blobs.json --quiet
acc=$("$JSON_QUERY" runs/blobs/report.json test.accuracy)
ge "$acc" 0.99 || fail "blobs test accuracy $acc below 0.99"
echo "blobs test accuracy: $acc" >&2
expect 0 "evaluate blobs" -- "$DNNEVAL" --model runs/blobs/ckpt.bin
grep -q "^versicolor" "$T/out" && grep -q "setosa" "$T/out" || fail "the report names the classes"
[ "$("$JSON_QUERY" runs/blobs/report.json test.per_class.2.class)" = virginica ] || fail "classes sorted by name"

# the pipeline: unlabelled rows on stdin, one prediction row each on stdout, in order, with class names
tail -n 5 blobs-test.csv | cut -d, -f1-4 | sed '1i id,sepal,petal,width' >new.csv
expect 0 "stdin to stdout" -- sh -c "cat new.csv | '$DNNEVAL' --model runs/blobs/ckpt.bin --data - --predict - --quiet"
[ "$(head -1 "$T/out")" = "index,predicted,p_setosa,p_versicolor,p_virginica" ] || fail "prediction header: $(head -1 "$T/out")"
[ "$(wc -l <"$T/out")" -eq 6 ] || fail "5 predictions and a header"
[ "$(cut -d, -f2 "$T/out" | tail -n 5 | tr '\n' ' ')" = "$(tail -n 5 blobs-test.csv | cut -d, -f7 | tr '\n' ' ')" ] ||
    fail "predicted classes, in input order, match the true ones"
# other delimiter and no header, told by flags
tail -n 300 blobs-test.csv | cut -d, -f2-4,7 | tr , ';' >semi.csv
expect 0 "--delimiter --header --label" -- "$DNNEVAL" --model runs/blobs/ckpt.bin --data semi.csv --delimiter ';' \
    --header false --label 3 --json
[ "$("$JSON_QUERY" "$T/out" accuracy)" = "$acc" ] || fail "the same rows, differently written, score differently"

# regression with a known R^2: y = 3 x1 - 2 x2 + 1 + noise(0.5); var(signal) = 13/3, so R^2 = 4.333/4.583 = 0.945
awk "$AWK_GAUSS"' BEGIN { srand(5); print "x1,x2,y,z";
    for (i = 0; i < 4000; i++) { a = 2 * rand() - 1; b = 2 * rand() - 1;
        printf "%.6f,%.6f,%.6f,%.6f\n", a, b, 3 * a - 2 * b + 1 + 0.5 * gauss(), 100 * (a + b) }}' >reg.csv
head -3001 reg.csv >reg-train.csv
{ head -1 reg.csv; tail -n 1000 reg.csv; } >reg-test.csv
cat >reg.json <<'JSON'
{"seed": 1,
 "data": {"train": {"format": "csv", "path": "reg-train.csv", "label": ["y", "z"]},
          "test": {"format": "csv", "path": "reg-test.csv", "label": ["y", "z"]}, "normalize": "standardize"},
 "model": {"layers": [{"type": "dense", "units": 16, "activation": "tanh"}, {"type": "dense", "units": 2}]},
 "loss": "mse", "optimizer": {"type": "adam", "learning_rate": 0.01},
 "training": {"epochs": 40, "batch_size": 64}}
JSON
expect 0 "train a two-target regression" -- "$DNNTRAIN" --config reg.json --quiet
expect 0 "evaluate it" -- "$DNNEVAL" --model runs/reg/ckpt.bin --json --min-r2 0.9
r2y=$("$JSON_QUERY" "$T/out" per_target.0.r2)
rmse=$("$JSON_QUERY" "$T/out" per_target.0.rmse)
r2z=$("$JSON_QUERY" "$T/out" per_target.1.r2)
echo "regression: R^2(y) $r2y (theory 0.945), RMSE(y) $rmse (noise 0.5), R^2(z) $r2z" >&2
ge "$r2y" 0.925 && ge 0.96 "$r2y" || fail "R^2 of y $r2y is not near 0.945"
ge "$rmse" 0.45 && ge 0.56 "$rmse" || fail "RMSE of y $rmse is not near the noise, 0.5 (units of y)"
ge "$r2z" 0.99 || fail "R^2 of z (noise-free) $r2z"
[ "$("$JSON_QUERY" "$T/out" per_target.1.target)" = z ] || fail "targets named"
expect 0 "regression predictions" -- "$DNNEVAL" --model runs/reg/ckpt.bin --data reg-test.csv --predict preds.csv --quiet
[ "$(head -1 preds.csv)" = "index,predicted_y,predicted_z" ] || fail "regression prediction header: $(head -1 preds.csv)"
# predictions come row by row in the targets' units: against the known functions y = 3 x1 - 2 x2 + 1 and
# z = 100 (x1 + x2) (over seeds 1-5 the RMSE is 0.04-0.12 for y and 0.9-2.6 for z, whose spread is 82; in
# standardised units or another row order it would be about 2 and 80)
paste -d, <(tail -n +2 reg-test.csv) <(tail -n +2 preds.csv) >joined.csv
read -r n off fy fz < <(awk -F, '{ y = 3 * $1 - 2 * $2 + 1; z = 100 * ($1 + $2); ey += ($6 - y) ^ 2; ez += ($7 - z) ^ 2
    off += $5 != NR - 1 } END { printf "%d %d %.6g %.6g\n", NR, off, sqrt(ey / NR), sqrt(ez / NR) }' joined.csv)
[ "$n" -eq 1000 ] && [ "$off" -eq 0 ] || fail "regression predictions: $n rows for 1000, $off with the wrong index"
echo "predictions against the true functions: RMSE $fy for y, $fz for z" >&2
ge 0.2 "$fy" && ge 5 "$fz" || fail "predictions far from the true functions: RMSE $fy for y (< 0.2), $fz for z (< 5)"
expect 6 "a missed R^2 gate" -- "$DNNEVAL" --model runs/reg/ckpt.bin --min-r2 0.999 --max-rmse 0.1
err_has "quality gate failed: R^2" "quality gate failed: RMSE"

# binary: one sigmoid unit, binary cross-entropy; the report names the positive class
awk "$AWK_GAUSS"' BEGIN { srand(9); print "u,v,churn";
    for (i = 0; i < 1200; i++) { c = i % 2; printf "%.5f,%.5f,%s\n", 2 * c + gauss(), -c + gauss(), c ? "yes" : "no" } }' >bin.csv
cat >bin.json <<'JSON'
{"data": {"train": {"format": "csv", "path": "bin.csv"}, "validation_split": 0.25, "normalize": "standardize"},
 "model": {"layers": [{"type": "dense", "units": 8, "activation": "relu"}, {"type": "dense", "units": 1, "activation": "sigmoid"}]},
 "loss": "binary_cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.01},
 "training": {"epochs": 20, "batch_size": 32}}
JSON
expect 0 "train a binary classifier" -- "$DNNTRAIN" --config bin.json --quiet
expect 0 "evaluate it" -- "$DNNEVAL" --model runs/bin/ckpt.bin --data bin.csv --json
bacc=$("$JSON_QUERY" "$T/out" accuracy)
echo "binary accuracy: $bacc (the Bayes classifier's: 0.868)" >&2
ge "$bacc" 0.85 || fail "binary accuracy $bacc"
[ "$("$JSON_QUERY" "$T/out" positive_class)" = yes ] || fail "positive class named"
expect 0 "binary predictions" -- "$DNNEVAL" --model runs/bin/ckpt.bin --data bin.csv --predict - --quiet
[ "$(head -1 "$T/out")" = "index,predicted,p_no,p_yes" ] || fail "binary prediction header"

# missing cells: each policy trains, says what it did, and "error" names the file, line and column
awk "$AWK_GAUSS"' BEGIN { srand(2); print "a,b,label";
    for (i = 0; i < 400; i++) { c = i % 2; a = (i % 7 == 3) ? "NA" : sprintf("%.4f", 3 * c + gauss());
        b = (i % 11 == 5) ? "" : sprintf("%.4f", gauss()); l = (i == 50) ? "?" : (c ? "hi" : "lo");
        printf "%s,%s,%s\n", a, b, l } }' >gaps.csv
for policy in mean median zero drop; do
    cat >gaps-$policy.json <<JSON
{"data": {"train": {"format": "csv", "path": "gaps.csv", "missing": "$policy"}, "validation_split": 0.25},
 "model": {"layers": [{"type": "dense", "units": 2, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.05}, "training": {"epochs": 15, "batch_size": 20}}
JSON
    expect 0 "missing: $policy" -- "$DNNTRAIN" --config gaps-$policy.json --verbose
    err_has "dropped 1 row with a missing label"
    if [ $policy = drop ]; then err_has "dropped 88 rows with missing values" # 57 + 36 - 5 with both
    else err_has "imputed 93 missing cells in 2 columns" "column \"a\": 57 missing" "column \"b\": 36 missing"; fi
    vacc=$("$JSON_QUERY" runs/gaps-$policy/report.json final.val_accuracy)
    echo "missing: $policy: val_accuracy $vacc" >&2
    ge "$vacc" 0.8 || fail "val_accuracy with $policy: $vacc"
done
cat >gaps-error.json <<'JSON'
{"data": {"train": {"format": "csv", "path": "gaps.csv"}},
 "model": {"layers": [{"type": "dense", "units": 2, "activation": "softmax"}]}, "loss": "cross_entropy", "optimizer": "adam"}
JSON
expect 3 "missing: error" -- "$DNNTRAIN" --config gaps-error.json
err_has "gaps.csv:5:" "column \"a\"" "missing value"
# the imputation learnt in training applies to new data at evaluation
expect 0 "evaluate data with gaps" -- "$DNNEVAL" --model runs/gaps-median/ckpt.bin --data gaps.csv --quiet

# a ragged file through the command
printf 'sepal,petal,width,species\n1,2,3,setosa\n3,4\n' >ragged.csv
expect 3 "ragged rows" -- "$DNNEVAL" --model runs/blobs/ckpt.bin --data ragged.csv
err_has "ragged.csv:3:" "2 fields, expected 4"

# the tabular examples in configs/ train as the README shows
expect 0 "configs/fruit.json" -- "$DNNTRAIN" --config "$SRC_DIR/configs/fruit.json" --out fruit --verbose
err_has "imputed 47 missing cells in 4 columns" "column \"weight_g\""
expect 0 "evaluate the fruit model" -- "$DNNEVAL" --model fruit/ckpt.bin --data "$SRC_DIR/configs/data/fruit.csv" --min-accuracy 0.95
expect 0 "configs/housing.json" -- "$DNNTRAIN" --config "$SRC_DIR/configs/housing.json" --out housing --quiet
expect 0 "evaluate the housing model" -- "$DNNEVAL" --model housing/ckpt.bin --data "$SRC_DIR/configs/data/housing.csv" --min-r2 0.95

finish
