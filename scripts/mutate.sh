#!/usr/bin/env bash
# Mutation check: would the fast suite notice a one-line bug? Each mutation in tests/mutations.txt is applied
# to a scratch copy of the working tree, which is rebuilt and tested (ctest without label "slow", each test
# under a timeout, the unit tests first). A mutation that makes a test fail is killed; one the whole suite
# passes survived, and shows a test to write. Prints each mutation's fate and the score, killed / (killed +
# survived). Not part of CI: it rebuilds and reruns the suite once per mutation (about half a minute each on
# 2 cores).
#
# Usage: scripts/mutate.sh [--list FILE] [--timeout SECONDS] [--keep] [NAME...]
#   --list FILE       mutations to apply (default tests/mutations.txt; its header says the format)
#   --timeout SECONDS per test (default 120; a mutation that hangs a test is killed by the timeout)
#   --keep            leave the scratch tree and its build in /tmp for a look
#   NAME...           only these mutations
set -euo pipefail
cd "$(dirname "$0")/.."
list=tests/mutations.txt
timeout=120
keep=0
only=()
while [ $# -gt 0 ]; do
    case $1 in
    --list) list=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "mutate.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) only+=("$1"); shift ;;
    esac
done
[ -r "$list" ] || { echo "mutate.sh: cannot read $list" >&2; exit 2; }
command -v perl >/dev/null || { echo "mutate.sh: needs perl (apt-get install perl-base)" >&2; exit 2; }
jobs=$(nproc)
export DNN_TEST_STRICT=1 # a test that cannot run must not count as passing

scratch=$(mktemp -d /tmp/dnn_mutate_XXXXXX)
if [ $keep = 1 ]; then echo "scratch tree: $scratch" >&2; else trap 'rm -rf "$scratch"' EXIT; fi
tree=$scratch/tree build=$scratch/build log=$scratch/log
mkdir -p "$tree"

# The working tree as it is now (committed or not), without ignored files such as build folders.
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar -cf - --null -T - | tar -xf - -C "$tree"

build() { cmake --build "$build" -j"$jobs" >"$log" 2>&1; }

# run_tests: 0 when every fast test passes; otherwise the failed tests' names in $failed. Unit tests run
# first, so most mutations are caught in seconds.
run_tests() {
    failed=""
    local part
    for part in "-E ^cli_" "-R ^cli_"; do
        # shellcheck disable=SC2086 # part is two words on purpose
        if ! ctest --test-dir "$build" -LE slow $part --timeout "$timeout" -j"$jobs" >"$log" 2>&1; then
            failed=$(sed 's/^[0-9]*://' "$build/Testing/Temporary/LastTestsFailed.log" 2>/dev/null | tr '\n' ' ')
            failed=${failed% }
            [ -n "$failed" ] || failed="(ctest failed: see $log)"
            return 1
        fi
    done
    return 0
}

# count_in FILE TEXT: how many times TEXT occurs in FILE, as plain text
count_in() { FIND=$2 perl -0777 -ne '$n = () = /\Q$ENV{FIND}\E/g; print $n' "$1"; }

echo "== building the scratch copy" >&2
if ! { cmake -S "$tree" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$log" 2>&1 && build; }; then
    cat "$log" >&2
    echo "mutate.sh: the unmutated tree does not build" >&2
    exit 1
fi
echo "== the unmutated suite must pass" >&2
run_tests || { echo "mutate.sh: the suite fails without any mutation: $failed" >&2; exit 1; }

killed=0 survived=0 broken=0
survivors=()
while IFS= read -r line || [ -n "$line" ]; do
    case $line in '#'* | '') continue ;; esac
    name=${line%% *}
    rest=${line#* }
    rest=${rest#"${rest%%[! ]*}"}
    file=${rest%%: *}
    spec=${rest#*: }
    find=${spec%% => *}
    repl=${spec#* => }
    if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then continue; fi
    if [ "$spec" = "$rest" ] || [ "$find" = "$spec" ]; then
        printf '%-28s BAD LINE (expected NAME FILE: FIND => REPLACE)\n' "$name"
        broken=$((broken + 1))
        continue
    fi
    target=$tree/$file
    n=$([ -f "$target" ] && count_in "$target" "$find" || echo 0)
    if [ "$n" != 1 ]; then
        printf '%-28s STALE: the text occurs %s times in %s (expected once)\n' "$name" "$n" "$file"
        broken=$((broken + 1))
        continue
    fi
    cp -p "$target" "$scratch/original"
    FIND=$find REPL=$repl perl -0777 -pi -e 's/\Q$ENV{FIND}\E/$ENV{REPL}/' "$target"
    start=$SECONDS
    if ! build; then
        printf '%-28s DOES NOT BUILD (fix the mutation): %s\n' "$name" "$(grep -m1 'error' "$log")"
        broken=$((broken + 1))
    elif run_tests; then
        printf '%-28s SURVIVED (%ds)  %s: %s\n' "$name" $((SECONDS - start)) "$file" "$repl"
        survived=$((survived + 1))
        survivors+=("$name")
    else
        printf '%-28s killed by %s (%ds)\n' "$name" "$failed" $((SECONDS - start))
        killed=$((killed + 1))
    fi
    cp "$scratch/original" "$target"
    touch "$target" # newer than the mutant's object file, so the next build recompiles it
done <"$list"

total=$((killed + survived))
echo
if [ $total -gt 0 ]; then
    echo "score: $killed killed of $total ($((100 * killed / total))%), $survived survived${survivors:+: ${survivors[*]}}"
else
    echo "score: no mutation ran"
fi
[ $broken -eq 0 ] || echo "$broken mutation(s) could not be applied (stale, bad or not building): fix tests/mutations.txt"
[ $survived -eq 0 ] && [ $broken -eq 0 ]
