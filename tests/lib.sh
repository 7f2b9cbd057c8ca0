# Shared helpers for the shell tests: set by CTest are DNNTRAIN, DNNEVAL, JSON_QUERY and SRC_DIR.
set -u
FAILS=0
SKIPS=0
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
T=$(mktemp -d /tmp/dnn_e2e_XXXXXX)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*" >&2; }

# expect CODE DESCRIPTION -- COMMAND...: the command exits with CODE; its stderr is kept in $T/err
expect() {
    local want=$1 what=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$what: exit $got, expected $want"
        sed 's/^/    /' "$T/err" >&2
    else
        pass "$what"
    fi
}

# err_has TEXT...: every text appears in the last command's stderr
err_has() {
    for s in "$@"; do
        grep -qF -- "$s" "$T/err" || { fail "stderr lacks \"$s\""; sed 's/^/    /' "$T/err" >&2; }
    done
}

# is_number X: X is a decimal number (awk would read "", "abc" or "nan" as 0 and compare happily)
is_number() { [[ $1 =~ ^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$ ]]; }

# ge A B: A >= B as numbers; a value that is not a number is a failure of its own, whatever the caller does
ge() {
    local x
    for x in "$1" "$2"; do
        is_number "$x" || { fail "ge $1 $2: \"$x\" is not a number"; return 1; }
    done
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'
}

be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }

# tabular_job TRAIN TEST CONFIG DATA_SEED SEED STREAM EPOCHS: gen_tabular's rows (20,000 in TRAIN from
# DATA_SEED, 10,000 in TEST from DATA_SEED + 1) and CONFIG, a softmax regression on them; sets bayes, the test
# rows' Bayes accuracy
tabular_job() {
    "$BUILD_DIR/tests/gen_tabular" 20000 "$4" "$1" >/dev/null || fail "generating $1"
    "$BUILD_DIR/tests/gen_tabular" 10000 $(($4 + 1)) "$2" >"$2.txt" || fail "generating $2"
    bayes=$(awk '/bayes_accuracy/ { print $2 }' "$2.txt")
    cat >"$3" <<JSON
{"seed": $5,
 "data": {"train": {"path": "$1", "stream": $6}, "test": {"path": "$2"}, "categorical": "auto",
          "validation_split": 0.1, "normalize": "standardize", "shuffle_buffer": 2000},
 "model": {"layers": [{"type": "dense", "units": 2, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.01},
 "training": {"epochs": $7, "batch_size": 64}}
JSON
}

# fmnist_subset SPLIT N DEST_PREFIX: the first N items of Fashion-MNIST's SPLIT ("train" or "t10k") as
# DEST_PREFIX-images-idx3-ubyte and DEST_PREFIX-labels-idx1-ubyte
fmnist_subset() {
    local split=$1 n=$2 dst=$3
    { printf '\x00\x00\x08\x03'; be32 "$n"; be32 28; be32 28
      gzip -dc "$FMNIST/$split-images-idx3-ubyte.gz" | tail -c +17 | head -c $((n * 784)); } >"$dst-images-idx3-ubyte"
    { printf '\x00\x00\x08\x01'; be32 "$n"
      gzip -dc "$FMNIST/$split-labels-idx1-ubyte.gz" | tail -c +9 | head -c "$n"; } >"$dst-labels-idx1-ubyte"
}

# Strict runs (scripts/test.sh sets DNN_TEST_STRICT=1; CI sets CI=true) have everything installed: there, a
# check that cannot run is a failure, not a skip.
strict() { [ "${DNN_TEST_STRICT:-0}" = 1 ] || [ "${CI:-}" = true ]; }

# skip WHAT: a check that cannot run here. It fails a strict run; otherwise the test ends as skipped (77)
# rather than passed, so ctest reports it.
skip() {
    if strict; then
        fail "cannot run under DNN_TEST_STRICT or CI: $*"
    else
        echo "SKIPPED: $*" >&2
        SKIPS=$((SKIPS + 1))
    fi
}

need_fmnist() {
    if [ ! -r "$FMNIST/train-images-idx3-ubyte.gz" ]; then
        skip "Fashion-MNIST is not installed in $FMNIST (apt-get install dataset-fashion-mnist)"
        finish
    fi
}

finish() {
    if [ "$FAILS" -ne 0 ]; then
        echo "$FAILS check(s) failed" >&2
        exit 1
    fi
    if [ "$SKIPS" -ne 0 ]; then
        echo "$SKIPS check(s) skipped (SKIPPED above), none failed" >&2
        exit 77
    fi
    echo "all checks passed" >&2
    exit 0
}
