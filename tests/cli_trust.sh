#!/usr/bin/env bash
# No wrong result with exit 0: each way dnn once gave one (labels found by position, duplicate column names,
# numeric header names, inexact resume after restore_best, a failed save on SIGINT reported as saved, one
# numbered checkpoint too many, two runs in one folder, a fresh run beside another run's files) and the
# property that a CSV's column order never changes a report.
. "$(dirname "$0")/lib.sh"
need_fmnist
cd "$T"
AWK_GAUSS='function gauss() { return sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand()) }'

# ---- 1. targets are found by name in the evaluation file, wherever they are ----
awk "$AWK_GAUSS"' BEGIN { srand(21); print "a,b,c,y";
    for (i = 0; i < 1500; i++) { a = gauss(); b = gauss(); c = gauss();
        printf "%.6f,%.6f,%.6f,%.6f\n", a, b, c, 2 * a - b + 0.5 * c + 0.3 * gauss() } }' >reg.csv
cat >reg.json <<'JSON'
{"seed": 4, "data": {"train": {"path": "reg.csv"}, "normalize": "standardize"},
 "model": {"layers": [{"type": "dense", "units": 16, "activation": "tanh"}, {"type": "dense", "units": 1}]},
 "loss": "mse", "optimizer": {"type": "adam", "learning_rate": 0.01}, "training": {"epochs": 15, "batch_size": 50}}
JSON
expect 0 "train a regression with the label last" -- "$DNNTRAIN" --config reg.json --quiet
expect 0 "score it on its own file" -- "$DNNEVAL" --model runs/reg/ckpt.bin --data reg.csv --json
r2=$("$JSON_QUERY" "$T/out" r2)
ge "$r2" 0.9 || fail "R^2 on the training file is $r2"
awk -F, -v OFS=, 'NR == 1 { print $0, "row_id"; next } { print $0, NR - 2 }' reg.csv >extra.csv
expect 0 "a trailing extra column" -- "$DNNEVAL" --model runs/reg/ckpt.bin --data extra.csv --json
[ "$("$JSON_QUERY" "$T/out" r2)" = "$r2" ] || fail "a trailing row_id column changed R^2 to $("$JSON_QUERY" "$T/out" r2) (was $r2)"
awk -F, -v OFS=, '{ print $4, $1, $2, $3 }' reg.csv >first.csv
expect 0 "the label first" -- "$DNNEVAL" --model runs/reg/ckpt.bin --data first.csv --json
[ "$("$JSON_QUERY" "$T/out" labelled)" = true ] && [ "$("$JSON_QUERY" "$T/out" r2)" = "$r2" ] ||
    fail "with the label moved first: labelled $("$JSON_QUERY" "$T/out" labelled), R^2 $("$JSON_QUERY" "$T/out" r2)"
cut -d, -f1-3 reg.csv >nolabel.csv
expect 0 "no label column: predict-only, said" -- "$DNNEVAL" --model runs/reg/ckpt.bin --data nolabel.csv --json
[ "$("$JSON_QUERY" "$T/out" labelled)" = false ] || fail "a file without the label is scored as labelled"
err_has 'no column "y"' "predict-only"

# property: any permutation of a headed file's columns gives the same report
"$DNNEVAL" --model runs/reg/ckpt.bin --data reg.csv --json | grep -v '"seconds"\|samples_per_second\|"data"' >base.json
for perm in "2 4 1 3" "3 1 4 2" "4 3 2 1" "1 4 3 2"; do
    awk -F, -v OFS=, -v p="$perm" 'BEGIN { n = split(p, q, " ") } { s = $q[1]; for (i = 2; i <= n; i++) s = s OFS $q[i]; print s }' \
        reg.csv >perm.csv
    "$DNNEVAL" --model runs/reg/ckpt.bin --data perm.csv --json | grep -v '"seconds"\|samples_per_second\|"data"' >perm.json
    cmp -s base.json perm.json || fail "columns in order $perm give another report: $(diff base.json perm.json | head -4)"
done

# ---- 2. duplicate column names are refused, naming both ----
awk "$AWK_GAUSS"' BEGIN { srand(8); split("a b c", n, " "); print "x1,x1,x3,species";
    for (i = 0; i < 300; i++) { k = i % 3; printf "%.4f,%.4f,%.4f,%s\n", k + gauss(), -k + gauss(), gauss(), n[k + 1] } }' >dup.csv
cat >dup.json <<'JSON'
{"data": {"train": {"path": "dup.csv"}}, "model": {"layers": [{"type": "dense", "units": 3, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": "adam"}
JSON
expect 3 "duplicate column names in training" -- "$DNNTRAIN" --config dup.json
err_has "dup.csv" '"x1"' "columns 0 and 1"
sed '1s/.*/x1,x2,x3,species/' dup.csv >nodup.csv
sed 's/dup.csv/nodup.csv/' dup.json >nodup.json
expect 0 "the same data with unique names" -- "$DNNTRAIN" --config nodup.json --quiet
expect 3 "duplicate column names in evaluation" -- "$DNNEVAL" --model runs/nodup/ckpt.bin --data dup.csv
err_has "dup.csv" '"x1"' "columns 0 and 1"

# ---- 3. numeric header names (an unnamed pandas frame) are a header, not data ----
sed '1s/.*/0,1,2,species/' dup.csv >numhead.csv
sed 's/dup.csv/numhead.csv/' dup.json >numhead.json
expect 0 "numeric header names" -- "$DNNTRAIN" --config numhead.json --verbose --set training.epochs=2
err_has "header"
expect 0 "its classes" -- "$DNNEVAL" --model runs/numhead/ckpt.bin --info
grep -q "^classes *3: a b c$" "$T/out" || fail "\"species\" was read as a class: $(grep classes "$T/out")"
# a file whose first row is data stays data
tail -n +2 nodup.csv >nohead.csv
sed 's/dup.csv/nohead.csv/' dup.json >nohead.json
expect 0 "no header" -- "$DNNTRAIN" --config nohead.json --set training.epochs=1 --quiet
expect 0 "its rows" -- "$DNNEVAL" --model runs/nohead/ckpt.bin --info
grep -q "^inputs *3$" "$T/out" && grep -q "^classes *3" "$T/out" || fail "a headerless file lost a row or a column"

# ---- 4. resume after restore_best continues the last epoch, not the best ----
fmnist_subset train 300 tiny
fmnist_subset t10k 200 tinytest
cat >over.json <<'JSON'
{"seed": 2,
 "data": {"train": {"format": "idx", "images": "tiny-images-idx3-ubyte"},
          "test": {"format": "idx", "images": "tinytest-images-idx3-ubyte"}, "validation_split": 0.3},
 "model": {"layers": [{"type": "dense", "units": 128, "activation": "relu"}, {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.003},
 "training": {"epochs": 12, "batch_size": 20, "early_stopping": {"monitor": "val_loss", "patience": 50, "restore_best": true}},
 "output": {"save_best": true}}
JSON
expect 0 "12 epochs with restore_best" -- "$DNNTRAIN" --config over.json --out straight --threads 1 --quiet
expect 0 "8 epochs" -- "$DNNTRAIN" --config over.json --out split --threads 1 --set training.epochs=8 --quiet
best8=$("$JSON_QUERY" split/report.json best_epoch)
[ "$best8" -lt 8 ] || fail "the test needs a run whose best epoch ($best8) is before the split (8)"
expect 0 "resumed to 12" -- "$DNNTRAIN" --resume split/ckpt.bin --threads 1 --set training.epochs=12 --quiet
cmp -s straight/ckpt.bin split/ckpt.bin || fail "8 + 4 epochs with restore_best differ from 12"
# the best weights are what gets scored
a=$("$DNNEVAL" --model straight/ckpt.bin --threads 1 --json | "$JSON_QUERY" - loss)
b=$("$DNNEVAL" --model straight/best.bin --threads 1 --json | "$JSON_QUERY" - loss)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "dnneval scores ckpt.bin ($a) and best.bin ($b) differently"
c=$("$DNNEVAL" --model split/best.bin --threads 1 --json | "$JSON_QUERY" - loss)
[ "$b" = "$c" ] || fail "best.bin of the resumed run scores $c, of the straight run $b"
[ "$("$JSON_QUERY" straight/report.json test.loss)" = "$a" ] || fail "the final report scores other weights than dnneval"

# ---- 5. a checkpoint that cannot be saved on SIGINT is exit 4, never "saved" ----
# (an epoch of many small batches of a wide layer, so the signal comes long before the first save)
fmnist_subset train 20000 big
cat >slow.json <<'JSON'
{"seed": 1, "data": {"train": {"format": "idx", "images": "big-images-idx3-ubyte"}},
 "model": {"layers": [{"type": "dense", "units": 1024, "activation": "relu"}, {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": "adam", "training": {"epochs": 50, "batch_size": 2}}
JSON
bash -c "ulimit -f 100; exec '$DNNTRAIN' --config slow.json --out nosave --threads 1" 2>nosave.err &
pid=$!
for _ in $(seq 200); do [ -e nosave/train.jsonl ] && break; sleep 0.05; done
sleep 0.5
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 4 ] || fail "SIGINT with a checkpoint that cannot be written: exit $rc, expected 4: $(cat nosave.err)"
grep -q "checkpoint saved" nosave.err && fail "it claims a save: $(cat nosave.err)"
grep -q "File too large" nosave.err || fail "the reason is not given: $(cat nosave.err)"
[ -e nosave/ckpt.bin ] && fail "a ckpt.bin exists although the save failed"

# ---- 6. output.keep keeps exactly the last N numbered checkpoints ----
cat >keep.json <<'JSON'
{"seed": 1, "data": {"train": {"format": "idx", "images": "tiny-images-idx3-ubyte"}},
 "model": {"layers": [{"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": "adam", "training": {"epochs": 7, "batch_size": 50},
 "output": {"every_epochs": 2, "keep": 2}}
JSON
expect 0 "7 epochs, every 2, keep 2" -- "$DNNTRAIN" --config keep.json --out keep --quiet
[ "$(cd keep && ls ckpt-*.bin | tr '\n' ' ')" = "ckpt-0006.bin ckpt-0007.bin " ] ||
    fail "expected ckpt-0006.bin and ckpt-0007.bin: $(cd keep && ls ckpt-*.bin | tr '\n' ' ')"

# ---- 7. one run per folder at a time ----
"$DNNTRAIN" --config slow.json --out busy --threads 1 --quiet 2>/dev/null &
pid=$!
for _ in $(seq 100); do [ -e busy/train.jsonl ] && break; sleep 0.05; done
expect 4 "a second run into a busy folder" -- "$DNNTRAIN" --config keep.json --out busy --overwrite
err_has "busy" "$pid"
kill -KILL $pid
wait $pid 2>/dev/null
expect 0 "a killed run's lock does not block" -- "$DNNTRAIN" --config keep.json --out busy --overwrite --quiet

# ---- 8. a fresh run never mixes with another run's files ----
cat >other.json <<'JSON'
{"seed": 3, "data": {"train": {"format": "idx", "images": "tiny-images-idx3-ubyte"}, "validation_split": 0.2},
 "model": {"layers": [{"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": "adam", "training": {"epochs": 2},
 "output": {"save_best": true, "keep": 1}}
JSON
expect 0 "a run with best.bin and numbered checkpoints" -- "$DNNTRAIN" --config other.json --out shared --quiet
expect 4 "a fresh run into its folder" -- "$DNNTRAIN" --config keep.json --out shared --quiet
err_has "shared" "--overwrite"
[ -e shared/best.bin ] || fail "the refused run touched the old run's files"
echo "mine" >shared/notes.txt
expect 0 "--overwrite" -- "$DNNTRAIN" --config keep.json --out shared --overwrite --quiet
[ -e shared/best.bin ] && fail "--overwrite left the old run's best.bin"
[ -e shared/ckpt-0002.bin ] && fail "--overwrite left the old run's numbered checkpoint"
[ -e shared/notes.txt ] || fail "--overwrite removed a file that is not dnn's"
[ "$(wc -l <shared/train.jsonl)" -eq 7 ] || fail "the new log has 7 lines"
expect 0 "a fresh run into an empty folder needs nothing" -- "$DNNTRAIN" --config keep.json --out "$(mkdir -p empty && echo empty)" --quiet

finish
