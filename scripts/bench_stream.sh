#!/usr/bin/env bash
# Data at scale: a generated table (tests/gen_tabular.c: a logistic model over 30 numeric and 2 categorical
# columns, ~240 bytes a row) trained streamed under --max-memory 256M at 0.5, 1, 2 and 4 GB, with peak RSS
# (/usr/bin/time -f %M) and seconds per epoch; epochs in memory against streamed (from the text and from the
# cache) on the 0.5 GB file; the first pass's MB/s on .csv and .csv.gz; the test accuracy against the Bayes
# classifier's. The files (about 8 GB) go to BENCH_DATA (default /tmp/dnn-bench-stream) and are removed at
# the end unless KEEP=1.
#
# Usage: scripts/bench_stream.sh [SIZES_GB="0.5 1 2 4"]; THREADS from the environment (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_packages "${DNN_BUILD_PACKAGES[@]}"
build_dnn build >/dev/null
cmake --build build --target gen_tabular >/dev/null

SIZES=${1:-"0.5 1 2 4"}
THREADS=${THREADS:-$(nproc)}
DATA=${BENCH_DATA:-/tmp/dnn-bench-stream}
mkdir -p "$DATA"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$DATA"' EXIT
q=build/tests/json_query
top=$(echo "$SIZES" | tr ' ' '\n' | sort -g | tail -1)
rows=$(awk -v g="$top" 'BEGIN { printf "%d", g * 1e9 / 240.7 }')

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); threads $THREADS"
echo "generating $rows rows ($top GB) and a test set of 200,000 rows in $DATA"
[ -s "$DATA/all.csv" ] || build/tests/gen_tabular "$rows" 7 "$DATA/all.csv" >/dev/null
build/tests/gen_tabular 200000 8 "$DATA/test.csv" >"$DATA/test.txt"
bayes=$(awk '/bayes_accuracy/ { print $2 }' "$DATA/test.txt")
for g in $SIZES; do # each size a prefix of the largest, cut at a line end
    bytes=$(awk -v g="$g" 'BEGIN { printf "%d", g * 1e9 }')
    [ -s "$DATA/g$g.csv" ] || head -c "$bytes" "$DATA/all.csv" | head -n -1 >"$DATA/g$g.csv"
done

cat >"$DATA/bench.json" <<JSON
{"seed": 1,
 "data": {"train": {"path": "g1.csv", "stream": true}, "test": {"path": "test.csv"}, "categorical": "auto",
          "validation_split": 0.05, "normalize": "standardize"},
 "model": {"layers": [{"type": "dense", "units": 64, "activation": "relu"},
                      {"type": "dense", "units": 2, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.001},
 "training": {"epochs": 1, "batch_size": 256}}
JSON
run() { # OUT LOG ARGS...: a timed run; prints peak RSS in MiB and wall seconds
    local out=$1 log=$2
    shift 2
    /usr/bin/time -f "%M %e" -o "$DATA/time" build/dnntrain --config "$DATA/bench.json" --out "$DATA/$out" \
        --overwrite --threads "$THREADS" --verbose "$@" >"$DATA/$log.out" 2>"$DATA/$log"
    awk '{ printf "%.0f %s\n", $1 / 1024, $2 }' "$DATA/time"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ROUNDS=${ROUNDS:-3}
first_pass() { sed -n 's/.*first pass: .* chunks, \([0-9.]*\) s$/\1/p' "$DATA/$1"; }
epoch_s() { $q - seconds <<<"$(sed -n "${2}p" "$DATA/$1/train.jsonl")"; }

echo
echo "streamed, --max-memory 256M, one epoch (a first pass, then the epoch):"
printf "| file | rows | peak RSS | first pass | epoch | test accuracy (Bayes %s) |\n| --- | --- | --- | --- | --- | --- |\n" "$bayes"
for g in $SIZES; do
    read -r rss wall < <(run "s$g" "s$g.log" --max-memory 256M --set "data.train.path=\"g$g.csv\"")
    n=$(awk -v a="$($q "$DATA/s$g/report.json" train_samples)" -v b="$($q "$DATA/s$g/report.json" validation_samples)" 'BEGIN { print a + b }')
    printf "| %s GB | %s | %s MiB | %s s | %.1f s | %s |\n" "$g" "$n" "$rss" "$(first_pass "s$g.log")" \
        "$(epoch_s "s$g" 1)" "$($q "$DATA/s$g/report.json" test.accuracy)"
done

g=$(echo "$SIZES" | awk '{ print $1 }')
echo
echo "the $g GB file, 3 epochs, $ROUNDS rounds of the three in turn: in memory against streamed (median over the"
echo "rounds of epochs 2 and 3; the cache built beforehand)"
run ecache ecache.log --max-memory 8G --set training.epochs=1 --set "data.train.path=\"g$g.csv\"" \
    --set data.train.stream=true --set data.train.cache=\""$DATA/g$g.cache"\" >/dev/null
: >"$DATA/ememory.s" && : >"$DATA/etext.s" && : >"$DATA/ecache.s"
for r in $(seq "$ROUNDS"); do
    for mode in memory text cache; do
        case $mode in
        memory) args=(--set data.train.stream=false) ;;
        text) args=(--set data.train.stream=true) ;;
        cache) args=(--set data.train.stream=true --set data.train.cache=\""$DATA/g$g.cache"\") ;;
        esac
        read -r rss wall < <(run "e$mode" "e$mode.log" --max-memory 8G --set training.epochs=3 \
            --set "data.train.path=\"g$g.csv\"" "${args[@]}")
        echo "$rss" >"$DATA/e$mode.rss"
        { epoch_s "e$mode" 2; epoch_s "e$mode" 3; } >>"$DATA/e$mode.s"
    done
done
printf "| | epoch | against memory | peak RSS |\n| --- | --- | --- | --- |\n"
base=$(median <"$DATA/ememory.s")
for mode in memory text cache; do
    m=$(median <"$DATA/e$mode.s")
    printf "| %s | %.2f s | %.2fx | %s MiB |\n" "$mode" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN { print a / b }')" \
        "$(cat "$DATA/e$mode.rss")"
done

echo
echo "first pass over the 1 GB file (parsing, statistics, chunks), MB/s of its text, median of $ROUNDS runs:"
[ -s "$DATA/g1.csv.gz" ] || gzip -6 -c "$DATA/g1.csv" >"$DATA/g1.csv.gz"
cmake --build build --target csv_bench >/dev/null
for f in g1.csv g1.csv.gz; do
    printf "| %s | %s |\n" "$f" "$(build/tests/csv_bench "$DATA/$f" "$ROUNDS" --first-pass 2>/dev/null)"
done
