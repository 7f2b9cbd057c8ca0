#!/usr/bin/env bash
# dnntrain under mpirun, end to end: 2 processes train one model and only rank 0 writes; over TCP the job
# gives the same bytes; 2 processes against one within the stated tolerance; N -> M resumes; SIGUSR1,
# SIGINT, SIGTERM and a killed process each leave a loadable checkpoint; a bad flag, config or data (on one
# process only) gives one message and the contract's exit code; threads per process; a streamed source
# split across the processes.
# MPIRUN (set by ctest) is the mpirun command line with its transport options.
. "$(dirname "$0")/lib.sh"
need_fmnist
if [ -z "${MPIRUN:-}" ]; then
    echo "MPIRUN is not set: run this through ctest in a build with MPI" >&2
    exit 1
fi
read -r -a MPI <<<"$MPIRUN"
mpi() { timeout 120 "${MPI[@]}" "$@"; }
# Open MPI 4.1's mpirun can fail to create its session folder when another starts at the same moment (mkdir
# races on it): every job here gets a folder of its own.
export OMPI_MCA_orte_tmpdir_base=$T/ompi
mkdir -p "$OMPI_MCA_orte_tmpdir_base"
# Jobs that do not depend on each other start together (starting an MPI job takes long, and mostly waits):
# spawn NAME COMMAND... starts one with its output in NAME.out and NAME.err; await NAME CODE DESCRIPTION
# checks its exit code as expect does, and leaves its output in $T/out and $T/err.
declare -A PIDS
spawn() {
    local name=$1
    shift
    mkdir -p "$T/ompi-$name"
    (OMPI_MCA_orte_tmpdir_base=$T/ompi-$name "$@" >"$T/$name.out" 2>"$T/$name.err") &
    PIDS[$name]=$!
}
await() {
    local name=$1 want=$2 what=$3 got
    wait "${PIDS[$name]}"
    got=$?
    cp "$T/$name.out" "$T/out"
    cp "$T/$name.err" "$T/err"
    if [ "$got" -ne "$want" ]; then
        fail "$what: exit $got, expected $want"
        sed 's/^/    /' "$T/err" >&2
    else
        pass "$what"
    fi
}
cd "$T"
fmnist_subset train 1200 sub
fmnist_subset t10k 300 subtest

# dropout, l2, a validation split and a last partial batch (1080 rows in batches of 50)
cat >mpi.json <<'JSON'
{"seed": 4,
 "data": {"train": {"format": "idx", "images": "sub-images-idx3-ubyte"},
          "test": {"format": "idx", "images": "subtest-images-idx3-ubyte"}, "validation_split": 0.1},
 "model": {"layers": [{"type": "dense", "units": 64, "activation": "relu", "l2": 0.0001},
                      {"type": "dropout", "rate": 0.2},
                      {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.002},
 "training": {"epochs": 5, "batch_size": 50}, "output": {"save_best": true}}
JSON
C=$T/mpi.json

# ---- the first jobs: 2 processes end to end (rank 1 runs in another folder, where it must write nothing),
# and the runs that the comparisons below need ----
mkdir w0 w1
spawn e2e mpi -n 1 --wdir "$T/w0" "$DNNTRAIN" --config "$C" --threads 1 --out run \
    : -n 1 --wdir "$T/w1" "$DNNTRAIN" --config "$C" --threads 1 --out run
spawn step2 mpi -n 2 "$DNNTRAIN" --config "$C" --threads 1 --set training.epochs=1 --set training.batch_size=1080 \
    --out step2 --quiet
spawn half mpi -n 2 "$DNNTRAIN" --config "$C" --threads 1 --set training.epochs=2 --out half --quiet
spawn full3 mpi -n 3 "$DNNTRAIN" --config "$C" --threads 1 --out full3 --quiet
spawn h3 mpi -n 3 "$DNNTRAIN" --config "$C" --threads 1 --set training.epochs=2 --out h3 --quiet
expect 0 "one step alone" -- "$DNNTRAIN" --config "$C" --threads 1 --set training.epochs=1 \
    --set training.batch_size=1080 --out step1 --quiet
expect 0 "5 epochs alone" -- "$DNNTRAIN" --config "$C" --threads 1 --out full1 --quiet

await e2e 0 "2 processes train"
for f in ckpt.bin best.bin train.jsonl report.json report.html curves.svg; do
    [ -f w0/run/$f ] || fail "rank 0 did not write $f"
done
[ -z "$(ls -A w1)" ] || fail "rank 1 wrote files: $(ls -A w1)"
[ "$(grep -c '^run folder' "$T/out")" = 1 ] && [ "$(grep -c '^epoch' "$T/err")" = 5 ] ||
    fail "the job's output is not rank 0's alone: $(cat "$T/out" "$T/err")"
err_has "data-parallel on Open MPI" "2 processes on 1 machine" "parts of 25"
[ "$("$JSON_QUERY" w0/run/report.json ranks)" = 2 ] && [ "$("$JSON_QUERY" w0/run/report.json threads_per_rank)" = 1 ] ||
    fail "report.json does not record 2 ranks of 1 thread"
"$JSON_QUERY" w0/run/report.json mpi | grep -q "Open MPI" || fail "report.json does not name the MPI library"
[ "$(wc -l <w0/run/train.jsonl)" = 5 ] || fail "train.jsonl has one line per epoch"
expect 0 "dnneval scores the job's checkpoint" -- "$DNNEVAL" --model w0/run/ckpt.bin --quiet
cp -r w0/run full2

# ---- 2 processes against one: the same global batches, only the order of the sums differs ----
# after one step (one batch of all 1080 training rows) and after 5 epochs
await step2 0 "one step on 2"
for run in "step 1e-6 after one step" "full 1e-5 after 5 epochs"; do
    read -r name tol what <<<"$run"
    read -r _ d _ rel _ <<<"$("$CKPT_DIFF" ${name}1/ckpt.bin ${name}2/ckpt.bin)"
    l1=$(tail -1 ${name}1/train.jsonl | "$JSON_QUERY" - loss)
    l2=$(tail -1 ${name}2/train.jsonl | "$JSON_QUERY" - loss)
    dl=$(awk -v a="$l1" -v b="$l2" 'BEGIN { d = a - b; printf "%.3g", d < 0 ? -d : d }')
    echo "2 processes against one $what: max |weight difference| $d (relative $rel), loss difference $dl" >&2
    ge "$tol" "$d" && ge 1e-6 "$dl" || fail "2 processes drifted from one $what: $d > $tol or loss $dl > 1e-6"
done

# ---- the same job over TCP on the loopback gives the same bytes; N -> M: 2 + 3 epochs on 2 processes = 5
# on 2, byte for byte; 3 -> 2 and 3 -> 1 within tolerance ----
tcp=()
for a in "${MPI[@]}"; do [ "$a" = "self,vader" ] && a=self,tcp; tcp+=("$a"); done
spawn tcp timeout 120 "${tcp[@]}" --mca btl_tcp_if_include lo -n 2 "$DNNTRAIN" --config "$C" --threads 1 \
    --out tcp --quiet
await half 0 "2 epochs on 2"
spawn half mpi -n 2 "$DNNTRAIN" --resume half/ckpt.bin --threads 1 --set training.epochs=5 --quiet
await h3 0 "2 epochs on 3"
cp -r h3 to2 && cp -r h3 to1
spawn to2 mpi -n 2 "$DNNTRAIN" --resume to2/ckpt.bin --threads 1 --set training.epochs=5 --quiet
expect 0 "resumed on 1" -- "$DNNTRAIN" --resume to1/ckpt.bin --threads 1 --set training.epochs=5 --quiet
await tcp 0 "the job over TCP on the loopback"
cmp -s full2/ckpt.bin tcp/ckpt.bin || fail "TCP and shared memory gave different checkpoints"
await half 0 "3 more on 2"
cmp -s full2/ckpt.bin half/ckpt.bin && cmp -s full2/best.bin half/best.bin ||
    fail "2 + 3 epochs on 2 processes differ from 5"
await full3 0 "5 epochs on 3"
await to2 0 "resumed on 2"
for m in 2 1; do
    read -r _ d _ <<<"$("$CKPT_DIFF" full3/ckpt.bin to$m/ckpt.bin)"
    echo "3 processes resumed on $m after 2 epochs, against 3 throughout: max |weight difference| $d" >&2
    ge 1e-5 "$d" || fail "3 -> $m resume drifted: $d"
    [ "$(wc -l <to$m/train.jsonl)" = 5 ] && [ "$("$JSON_QUERY" to$m/report.json ranks)" = "$m" ] ||
        fail "3 -> $m: the log or the report"
done

# ---- stopping a job that would run for ever, once its first checkpoint exists ----
# signal_job SIG DIR MPIRUN-ARGS...: JOB_RC, JOB_SECONDS (from the signal to the end) and JOB_EPOCHS (in the
# log) out; SIG KILL-RANK-1 kills the process of rank 1
signal_job() {
    local sig=$1 dir=$2 t0 p
    shift 2
    "${MPI[@]}" "$@" 2>"$T/job.err" &
    local pid=$!
    for _ in $(seq 600); do [ -f "$dir/ckpt.bin" ] && break; sleep 0.05; done
    sleep 0.3
    t0=$(date +%s%N)
    if [ "$sig" = KILL-RANK-1 ]; then
        for p in $(pgrep -P $pid); do
            tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && kill -KILL "$p"
        done
    else
        kill -"$sig" $pid
    fi
    wait $pid
    JOB_RC=$?
    JOB_SECONDS=$(awk -v t="$(($(date +%s%N) - t0))" 'BEGIN { printf "%.1f", t / 1e9 }')
    JOB_EPOCHS=$(wc -l <"$dir/train.jsonl")
}
forever=(--config "$C" --threads 1 --set training.epochs=100000)
# SIGUSR1, which mpirun forwards: every process stops after the same step, rank 0 saves, exit 130; resumed to
# the next epoch's end it gives the bytes of a run of that many epochs
signal_job USR1 usr1 -n 2 "$DNNTRAIN" "${forever[@]}" --out usr1
if [ "$JOB_RC" = 130 ]; then
    pass "SIGUSR1 to mpirun: exit 130 after ${JOB_SECONDS}s, at epoch $((JOB_EPOCHS + 1))"
    [ "$(grep -c "checkpoint saved" "$T/job.err")" = 1 ] || fail "SIGUSR1: one message: $(cat "$T/job.err")"
    e=$((JOB_EPOCHS + 1))
    expect 0 "resume after SIGUSR1" -- mpi -n 2 "$DNNTRAIN" --resume usr1/ckpt.bin --threads 1 \
        --set training.epochs=$e --quiet
    expect 0 "$e epochs uninterrupted" -- mpi -n 2 "$DNNTRAIN" --config "$C" --threads 1 --set training.epochs=$e \
        --out straight --quiet
    cmp -s straight/ckpt.bin usr1/ckpt.bin || fail "stopped by SIGUSR1 and resumed differs from uninterrupted"
else
    fail "SIGUSR1: mpirun exit $JOB_RC, expected 130: $(cat "$T/job.err")"
fi
# SIGINT and SIGTERM: mpirun sends SIGTERM to every process and SIGKILL a second later; in between the
# processes agree on a step and rank 0 saves; mpirun itself exits 1
for sig in INT TERM; do
    signal_job $sig sig$sig -n 2 "$DNNTRAIN" "${forever[@]}" --out sig$sig
    echo "SIG$sig to mpirun: exit $JOB_RC after ${JOB_SECONDS}s" >&2
    [ "$JOB_RC" != 0 ] || fail "SIG$sig: exit 0"
    grep -q "interrupted" "$T/job.err" && grep -q "checkpoint saved" "$T/job.err" ||
        fail "SIG$sig: no checkpoint saved: $(cat "$T/job.err")"
    expect 0 "resume after SIG$sig" -- "$DNNTRAIN" --resume sig$sig/ckpt.bin --threads 1 \
        --set training.epochs=$((JOB_EPOCHS + 1)) --quiet
done
# a process killed: the job ends non-zero within seconds, the last checkpoint loads and resumes
signal_job KILL-RANK-1 killed -n 2 "$DNNTRAIN" "${forever[@]}" --out killed
echo "rank 1 killed: mpirun exit $JOB_RC after ${JOB_SECONDS}s" >&2
[ "$JOB_RC" != 0 ] || fail "a killed process: exit 0"
ge 10 "$JOB_SECONDS" || fail "a killed process: the job took ${JOB_SECONDS}s to end"
expect 0 "the checkpoint after a kill loads" -- "$DNNEVAL" --model killed/ckpt.bin --info
expect 0 "and resumes" -- "$DNNTRAIN" --resume killed/ckpt.bin --threads 1 --set training.epochs=$((JOB_EPOCHS + 1)) --quiet

# ---- errors: one message and the contract's exit code; threads per process and the version line (all
# started together) ----
one_message() {
    local n
    n=$(grep -c '^dnntrain:' "$T/err")
    [ "$n" = 1 ] || fail "$n messages from dnntrain, expected 1: $(cat "$T/err")"
}
sed 's/"seed": 4/"seed": 4, "sed": 1/' mpi.json >bad.json
# data that only rank 1 reads broken (another folder's copy of the config, with truncated images), and a
# config that differs on rank 1 (another machine's copy, say)
mkdir broken differs locked
head -c 5000 sub-images-idx3-ubyte >broken/sub-images-idx3-ubyte
cp sub-labels-idx1-ubyte mpi.json broken/
cp sub-images-idx3-ubyte sub-labels-idx1-ubyte differs/
sed 's/"learning_rate": 0.002/"learning_rate": 0.001/' mpi.json >differs/mpi.json
spawn flag mpi -n 2 "$DNNTRAIN" --config "$C" --threads 0
spawn config mpi -n 2 "$DNNTRAIN" --config "$T/bad.json" --out bad
spawn data mpi -n 1 "$DNNTRAIN" --config "$C" --out broken-run : -n 1 "$DNNTRAIN" --config "$T/broken/mpi.json" \
    --out broken-run
spawn differ mpi -n 1 "$DNNTRAIN" --config "$C" --out differ : -n 1 "$DNNTRAIN" --config "$T/differs/mpi.json" \
    --out differ
# (flock holds the folder's lock for as long as the job runs)
spawn lock flock -n -o locked/.dnntrain.lock timeout 120 "${MPI[@]}" -n 2 "$DNNTRAIN" --config "$C" --out locked
spawn unbound mpi -n 2 --bind-to none "$DNNTRAIN" --version
spawn bound mpi -n 2 --bind-to core "$DNNTRAIN" --version
spawn threads3 mpi -n 2 "$DNNTRAIN" --version --threads 3
await flag 2 "a bad flag"
one_message
await config 2 "a config error"
one_message
err_has 'bad.json: sed: unknown key (did you mean "seed"?'
await data 3 "bad data on rank 1 only"
one_message
err_has "process 1 of 2" "broken/sub-images-idx3-ubyte"
await differ 2 "another config on rank 1"
one_message
err_has "the processes of the job read different configs or data"
await lock 4 "a folder another job holds"
one_message
err_has "locked: another dnntrain (PID unknown) is training in this folder"
threads() { grep -o '[0-9]* threads\?$' "$T/out" | cut -d' ' -f1; }
await unbound 0 "--version on 2 processes, unbound"
[ "$(grep -c '^MPI: Open MPI.*2 processes on 1 machine' "$T/out")" = 1 ] || fail "--version: $(cat "$T/out")"
want=$(($(nproc) / 2))
[ "$(threads)" = $((want > 1 ? want : 1)) ] || fail "unbound: $(threads) threads, expected cores / 2"
await bound 0 "bound to a core each"
[ "$(threads)" = 1 ] || fail "bound to a core: $(threads) threads"
await threads3 0 "--threads overrides"
[ "$(threads)" = 3 ] || fail "--threads 3: $(threads) threads"
expect 0 "without mpirun" -- "$DNNTRAIN" --version
grep -q "^MPI: .*not started by mpirun: one process" "$T/out" || fail "without mpirun: $(cat "$T/out")"

# ---- a streamed source split across the processes: each reads its own chunks, and they deal the same number
# of batches; every validation row is scored once; the accuracy of one process within a point; 2 + 4 epochs
# on 2 = 6, byte for byte ----
tabular_job tab.csv tabtest.csv st.json 3 2 true 6
spawn st2 mpi -n 2 "$DNNTRAIN" --config st.json --threads 1 --out st2 --quiet
spawn st2a mpi -n 2 "$DNNTRAIN" --config st.json --threads 1 --set training.epochs=2 --out st2a --quiet
expect 0 "streamed alone" -- "$DNNTRAIN" --config st.json --threads 1 --out st1 --quiet
await st2 0 "streamed on 2 processes"
[ "$("$JSON_QUERY" st2/report.json streamed)" = true ] && [ "$("$JSON_QUERY" st2/report.json ranks)" = 2 ] ||
    fail "report.json: streamed on 2 ranks"
[ "$("$JSON_QUERY" st2/report.json validation_samples)" = "$("$JSON_QUERY" st1/report.json validation_samples)" ] ||
    fail "the 2 processes scored $("$JSON_QUERY" st2/report.json validation_samples) validation rows, alone $("$JSON_QUERY" st1/report.json validation_samples)"
n2=$("$JSON_QUERY" st2/report.json train_samples)
[ $((n2 % 64)) = 0 ] && [ "$n2" -gt 15000 ] && [ "$n2" -le "$("$JSON_QUERY" st1/report.json train_samples)" ] ||
    fail "2 processes: $n2 training rows an epoch, not whole batches of most of the rows"
a1=$("$JSON_QUERY" st1/report.json test.accuracy) a2=$("$JSON_QUERY" st2/report.json test.accuracy)
echo "streamed: test accuracy alone $a1, on 2 processes $a2 (Bayes $bayes)" >&2
awk -v a="$a1" -v b="$a2" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }' ||
    fail "streamed alone ($a1) and on 2 processes ($a2) differ by a point or more"
await st2a 0 "2 streamed epochs on 2"
expect 0 "4 more on 2" -- "${MPI[@]}" -n 2 "$DNNTRAIN" --resume st2a/ckpt.bin --threads 1 --set training.epochs=6 --quiet
cmp -s st2/ckpt.bin st2a/ckpt.bin || fail "streamed on 2 processes: 2 + 4 epochs differ from 6"
# a cache in the run folder is rank 0's alone: with it rank 0 would cut the data into other chunks than the
# others and deal rows they deal too; the job reads the text, and says so
expect 0 "cache: true on 2" -- mpi -n 2 "$DNNTRAIN" --config st.json --threads 1 --set data.train.cache=true \
    --set training.epochs=1 --out stc
err_has "data.train.cache true keeps the cache in the run folder"
[ ! -e stc/data.cache ] || fail "a job of 2 wrote a cache into rank 0's run folder"
# one gzip file is one chunk, which one process reads: the other would have no rows, and no process a batch
# (this trained nothing, exit 0, before it was refused)
gzip -c tab.csv >tab.csv.gz
expect 3 "a single gzip file streamed on 2" -- mpi -n 2 "$DNNTRAIN" --config st.json --threads 1 \
    --set data.train.path=tab.csv.gz --out stgz --quiet
err_has "tab.csv.gz: streamed on 2 processes, its 1 chunk leaves" "at least 2 files"

finish
