#!/usr/bin/env bash
# Data at scale, end to end, on a data set with a known generating model (a logistic model over 30 numeric
# and 2 categorical columns, tests/gen_tabular.c): trained in memory and streamed, from one file, gzip, parts
# in a list or a glob, and a cache; accuracy within a point of the Bayes classifier's; streaming chosen by the
# memory budget; a streamed run resumed exactly; categorical levels named, unseen ones scored, 10,000 pooled;
# a corrupt part named.
. "$(dirname "$0")/lib.sh"
cd "$T"
GEN="$BUILD_DIR/tests/gen_tabular"

tabular_job train.csv test.csv lr.json 1 5 false 8
echo "the Bayes classifier's accuracy on the test rows: $bayes" >&2
acc() { "$JSON_QUERY" "$1/report.json" test.accuracy; }
near_bayes() { ge "$1" "$(awk -v b="$bayes" 'BEGIN { print b - 0.01 }')" || fail "$2: accuracy $1 is more than a point below the Bayes rate $bayes"; }

# ---- in memory and streamed, the same file: both at the Bayes rate, within noise of each other ----
expect 0 "in memory" -- "$DNNTRAIN" --config lr.json --out mem --quiet
expect 0 "streamed" -- "$DNNTRAIN" --config lr.json --out str --set data.train.stream=true --verbose
err_has "first pass: 20000 rows" "in 20 chunks"
[ "$("$JSON_QUERY" str/report.json streamed)" = true ] && [ "$("$JSON_QUERY" mem/report.json streamed)" = false ] ||
    fail "report.json says whether the data streamed"
am=$(acc mem) as=$(acc str)
echo "test accuracy: in memory $am, streamed $as (Bayes $bayes)" >&2
near_bayes "$am" "in memory"
near_bayes "$as" "streamed"
awk -v a="$am" -v b="$as" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }' || fail "in memory $am and streamed $as differ by a point or more"
rows=$(awk -v a="$("$JSON_QUERY" str/report.json train_samples)" -v b="$("$JSON_QUERY" str/report.json validation_samples)" 'BEGIN { print a + b }')
[ "$rows" = 20000 ] || fail "streamed: $rows rows for training and validation, not 20000"

# ---- gzip, parts in a list and by a glob (the middle part gzip, every part with its header) ----
gzip -c train.csv >train.csv.gz
mkdir parts
{ head -1 train.csv; sed -n '2,7001p' train.csv; } >parts/a.csv
{ head -1 train.csv; sed -n '7002,12001p' train.csv; } | gzip >parts/b.csv.gz
{ head -1 train.csv; sed -n '12002,20001p' train.csv; } >parts/c.csv
for src in '"train.csv.gz"' '"parts/*.csv*"' '["parts/a.csv", "parts/b.csv.gz", "parts/c.csv"]'; do
    expect 0 "streamed from $src" -- "$DNNTRAIN" --config lr.json --out parts-run --overwrite --quiet \
        --set data.train.stream=true --set "data.train.path=$src"
    n=$(awk -v a="$("$JSON_QUERY" parts-run/report.json train_samples)" -v b="$("$JSON_QUERY" parts-run/report.json validation_samples)" 'BEGIN { print a + b }')
    [ "$n" = 20000 ] || fail "$src: $n rows, not 20000"
    near_bayes "$(acc parts-run)" "$src"
done
# the same validation rows whatever the chunking: the hash of the row number decides
[ "$("$JSON_QUERY" parts-run/report.json validation_samples)" = "$("$JSON_QUERY" str/report.json validation_samples)" ] ||
    fail "parts and one file hold out different rows"
expect 0 "dnneval on a .csv.gz" -- "$DNNEVAL" --model str/ckpt.bin --data train.csv.gz --json
expect 0 "dnneval on a glob" -- "$DNNEVAL" --model str/ckpt.bin --data 'parts/*.csv*' --json
[ "$("$JSON_QUERY" "$T/out" samples)" = 20000 ] || fail "dnneval on the parts: $("$JSON_QUERY" "$T/out" samples) samples"

# ---- a corrupt gzip part is named, exit 3 ----
cp -r parts bad && printf 'garbage!' | dd of=bad/b.csv.gz bs=1 seek=3000 conv=notrunc 2>/dev/null
expect 3 "a corrupt gzip part" -- "$DNNTRAIN" --config lr.json --out bad-run --set data.train.stream=true \
    --set 'data.train.path="bad/*.csv*"'
err_has "bad/b.csv.gz" "corrupt gzip data"
expect 3 "a corrupt gzip part, in memory" -- "$DNNEVAL" --model str/ckpt.bin --data 'bad/*.csv*'
err_has "bad/b.csv.gz"

# ---- the cache: written once, read by the next run, which deals the same batches ----
expect 0 "a run that writes the cache" -- "$DNNTRAIN" --config lr.json --out cached --set data.train.stream=true \
    --set data.train.cache=true
err_has "wrote the cache cached/data.cache"
cp cached/ckpt.bin first.bin
expect 0 "a run that reads it" -- "$DNNTRAIN" --config lr.json --out cached --overwrite --set data.train.stream=true \
    --set data.train.cache=true
err_has "read the cache cached/data.cache"
cmp -s first.bin cached/ckpt.bin || fail "the cache's rows train otherwise than the text they came from"
touch train.csv
expect 0 "a changed source rebuilds it" -- "$DNNTRAIN" --config lr.json --out cached --overwrite --set data.train.stream=true \
    --set data.train.cache=true
err_has "wrote the cache"

# ---- "stream": "auto" follows the memory budget ----
expect 0 "auto streams past half the budget" -- "$DNNTRAIN" --config lr.json --out auto --set data.train.stream=\"auto\" \
    --max-memory 4M --set training.epochs=1
err_has "train.csv: about" "more than half the memory limit of 4.0 MiB: streaming it"
expect 0 "auto keeps small data in memory" -- "$DNNTRAIN" --config lr.json --out auto2 --set data.train.stream=\"auto\" \
    --set training.epochs=1 --quiet
[ "$("$JSON_QUERY" auto2/report.json streamed)" = false ] || fail "auto streamed data that fits"

# ---- a streamed run resumes exactly: 3 epochs = 1 + 2, and after SIGINT in the middle of an epoch ----
sed 's/"stream": false/"stream": true/; s/"epochs": 8/"epochs": 3/; s/"batch_size": 64/"batch_size": 8/' lr.json >res.json
expect 0 "3 streamed epochs" -- "$DNNTRAIN" --config res.json --out whole --threads 1 --quiet
expect 0 "1 streamed epoch" -- "$DNNTRAIN" --config res.json --out split --threads 1 --quiet --set training.epochs=1
expect 0 "resumed for 2 more" -- "$DNNTRAIN" --resume split/ckpt.bin --set training.epochs=3 --threads 1 --quiet
cmp -s whole/ckpt.bin split/ckpt.bin || fail "a streamed run resumed at an epoch's end differs"
# the signal goes when the first epoch's line is written: the run is then in its second epoch
"$DNNTRAIN" --config res.json --out cut --threads 1 2>cut.err &
pid=$!
for _ in $(seq 600); do [ -s cut/train.jsonl ] && break; sleep 0.05; done
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ]; then
    grep -q "interrupted at epoch [0-9]*, batch" cut.err || echo "note: interrupted between epochs" >&2
    expect 0 "resume a streamed run after SIGINT" -- "$DNNTRAIN" --resume cut/ckpt.bin --threads 1 --quiet
    cmp -s whole/ckpt.bin cut/ckpt.bin || fail "a streamed run interrupted and resumed differs from the uninterrupted one"
else
    fail "SIGINT: exit $rc, expected 130 (the run may have finished before the signal)"
fi

# ---- categorical columns: named features, unseen levels, 10,000 levels pooled ----
expect 0 "--info names the expanded features" -- "$DNNEVAL" --model str/ckpt.bin --info
grep -q "^features   60: x01 .* colour=black colour=blue .* colour=__other__ city=city00 " "$T/out" ||
    fail "--info features: $(grep features "$T/out" | cut -c1-200)"
grep -q "^categorical colour (9 levels): black, blue, green, grey, pink, red, teal, white, __other__$" "$T/out" ||
    fail "--info levels: $(grep categorical "$T/out")"
"$JSON_QUERY" str/report.json features.32 | grep -q '^colour=green$' || fail "report.json features"
{ head -1 test.csv; sed -n '2,4p' test.csv | sed 's/,[a-z]*,city\([0-9]*\),/,purple,city99,/'; } >unseen.csv
expect 0 "unseen levels go to __other__" -- "$DNNEVAL" --model str/ckpt.bin --data unseen.csv --predict - --quiet
[ "$(wc -l <"$T/out")" -eq 4 ] || fail "predictions for rows with unseen levels"
"$GEN" 6000 3 wide.csv --wide-levels >/dev/null
sed 's/train.csv/wide.csv/; s/"test": {"path": "test.csv"}, //' lr.json >wide.json
expect 0 "a column of 10,000 levels" -- "$DNNTRAIN" --config wide.json --out wide --quiet --set training.epochs=2
expect 0 "its levels" -- "$DNNEVAL" --model wide/ckpt.bin --info
grep -q "^categorical tag (33 levels): " "$T/out" && grep -q "^inputs *93$" "$T/out" ||
    fail "10,000 levels are not pooled into 32 and __other__: $(grep -E 'tag|inputs' "$T/out")"
expect 0 "... streamed too" -- "$DNNTRAIN" --config wide.json --out wides --quiet --set training.epochs=1 --set data.train.stream=true
expect 0 "its levels" -- "$DNNEVAL" --model wides/ckpt.bin --info
grep -q "^categorical tag (33 levels): " "$T/out" || fail "streamed: $(grep tag "$T/out")"
finish
