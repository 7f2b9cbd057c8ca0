#!/usr/bin/env bash
# dnntune end to end on the wine data (configs/data/wine.csv): dnntrain's --until-epoch pause, a random+ASHA
# study and its files, best.json reproducing its trial from another folder, the same trials for --jobs 1 and 2,
# SIGKILL at events and --resume until done (each trial once, the same results as a study never
# killed), SIGINT, and every refusal's exit code and message.
. "$(dirname "$0")/lib.sh"
cd "$T"
cp "$SRC_DIR/configs/data/wine.csv" .

cat >wine.json <<'JSON'
{"seed": 7,
 "data": {"train": {"format": "csv", "path": "wine.csv", "label": "cultivar"}, "validation_split": 0.3,
          "normalize": "standardize"},
 "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"}, {"type": "dropout", "rate": 0.2},
                      {"type": "dense", "units": 3, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.001,
                                        "lr_schedule": {"type": "cosine"}},
 "training": {"epochs": 6, "batch_size": 16}, "output": {"dir": "runs/wine"}}
JSON
cat >sweep.json <<'JSON'
{"base": "wine.json", "metric": "val_loss", "seed": 3, "sampler": "random", "trials": 8,
 "pruner": {"type": "asha", "min_epochs": 1, "max_epochs": 6, "reduction_factor": 3},
 "space": {"optimizer.type": {"choice": ["adam", "sgd"]},
           "optimizer.learning_rate": {"loguniform": [1e-3, 1e-1]},
           "optimizer.momentum": {"uniform": [0.5, 0.95], "if": {"optimizer.type": "sgd"}},
           "model.layers.0.units": {"int": [4, 32], "step": 4},
           "model.layers.1.rate": {"uniform": [0, 0.4]}}}
JSON

# dnntrain --until-epoch: paused runs resumed end byte-identical to a run never paused, cosine schedule and all
expect 0 "6 epochs" -- "$DNNTRAIN" --config wine.json --out whole --threads 1 --quiet
expect 0 "paused after 2" -- "$DNNTRAIN" --config wine.json --out paused --threads 1 --until-epoch 2
grep -q "paused after epoch 2" "$T/out" || fail "the pause is announced: $(cat "$T/out")"
[ -e paused/report.json ] && fail "a paused run wrote its final report"
expect 0 "resumed to 4" -- "$DNNTRAIN" --resume paused/ckpt.bin --threads 1 --until-epoch 4 --quiet
expect 0 "resumed to the end" -- "$DNNTRAIN" --resume paused/ckpt.bin --threads 1 --quiet
cmp -s whole/ckpt.bin paused/ckpt.bin || fail "paused twice and resumed differs from never paused"
[ -e paused/report.json ] || fail "the finished run has its report"

# a study: its files, each trial once, run folders dnneval reads
expect 0 "a random+ASHA study" -- "$DNNTUNE" --config sweep.json --out s1 --jobs 2 --threads-per-trial 1
for f in study.jsonl trials.csv best.json report.html; do [ -s "s1/$f" ] || fail "s1/$f is missing"; done
head -1 s1/trials.csv | grep -qx 'trial,state,value,best_epoch,epochs,seconds,optimizer.type,optimizer.learning_rate,optimizer.momentum,model.layers.0.units,model.layers.1.rate' ||
    fail "trials.csv header: $(head -1 s1/trials.csv)"
[ "$(tail -n +2 s1/trials.csv | cut -d, -f1 | sort -n | tr '\n' ' ')" = "0 1 2 3 4 5 6 7 " ] || fail "each trial once in trials.csv"
tail -n +2 s1/trials.csv | cut -d, -f2 | grep -vxE 'completed|pruned' && fail "a trial neither completed nor pruned"
completed=$(grep -c ',completed,' s1/trials.csv)
[ "$completed" -ge 1 ] || fail "no trial completed"
grep -q "completed, .* pruned" "$T/out" && grep -q "best: trial" "$T/out" || fail "summary: $(cat "$T/out")"
# sgd trials have a momentum, adam trials none
awk -F, 'NR > 1 && (($7 == "sgd") != ($9 != "")) { bad = 1 } END { exit bad }' s1/trials.csv || fail "the momentum's condition"
xmllint --noout s1/report.html 2>"$T/err" || fail "report.html is not well-formed: $(head -3 "$T/err")"
[ "$(grep -c '<svg' s1/report.html)" -eq 6 ] || fail "report.html: curves and 5 scatter plots expected"
best=$(awk -F, 'NR > 1 && $2 == "completed" && (b == "" || $3 < b) { b = $3; t = $1 } END { printf "%04d", t }' s1/trials.csv)
expect 0 "dnneval reads the best trial" -- "$DNNEVAL" --model "s1/trials/$best/ckpt.bin" --data wine.csv --quiet
# best.json runs from another folder and gives its trial's numbers, epoch by epoch
mkdir elsewhere
(cd elsewhere && "$DNNTRAIN" --config ../s1/best.json --threads 1 --quiet) || fail "dnntrain --config best.json"
vals() { grep -o '"epoch":[0-9]*,.*"val_loss":[^,]*' "$1" | sed 's/,"loss.*"val_loss"/ /' | sort -u -n -t: -k2; }
[ -n "$(vals "s1/trials/$best/train.jsonl")" ] && [ "$(vals elsewhere/runs/sweep-best/train.jsonl)" = "$(vals "s1/trials/$best/train.jsonl")" ] ||
    fail "best.json does not reproduce trial $best"

# the same trials for --jobs 1 and --jobs 2 (no pruner: every trial's numbers are its own)
sed 's/"epochs": 6/"epochs": 3/' wine.json >quick.json
sed 's/"pruner": {[^}]*},//; s/"trials": 8/"trials": 4/; s/wine.json/quick.json/' sweep.json >nopruner.json
expect 0 "--jobs 1" -- "$DNNTUNE" --config nopruner.json --out j1 --jobs 1 --threads-per-trial 1 --quiet
expect 0 "--jobs 2" -- "$DNNTUNE" --config nopruner.json --out j2 --jobs 2 --threads-per-trial 1 --quiet
[ "$(cut -d, -f1-5,7- j1/trials.csv)" = "$(cut -d, -f1-5,7- j2/trials.csv)" ] || fail "--jobs 1 and 2 differ"

# SIGKILL at events, then --resume until done: each trial once, and with one job the same results as s0, a study
# never killed; with two jobs, two trials are cut at once. A kill waits for the k-th "run" line from now (a trial
# was just started), k drawn from a seeded RANDOM among the segments still to come: each of the 8 trials runs one
# first-rung segment, so 8 minus the journal's first-rung segments is a lower bound on them, and k at most a quarter
# of it leaves first-rung segments unstarted after the kill's: the study is always still running when it is
# killed, however fast the machine, and it is killed at least twice (6 times at most).
expect 0 "a study never killed" -- "$DNNTUNE" --config sweep.json --out s0 --jobs 1 --threads-per-trial 1 --quiet
events() { # DIR EVENT: how many EVENT lines DIR's journal has (0 before it exists)
    local n
    n=$(grep -c "\"event\":\"$2\"" "$1/study.jsonl" 2>/dev/null)
    echo "${n:-0}"
}
# await_run DIR PID N: 0 once DIR's journal has N "run" lines, 1 if PID ended first or 60 s passed
await_run() {
    local _
    for _ in $(seq 6000); do
        [ "$(events "$1" run)" -ge "$3" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}
kill_and_resume() { # DIR JOBS: up to 6 kills, a resume after each; prints the kills
    local kills=0 pid left k
    RANDOM=$((41 + $2))
    "$DNNTUNE" --config sweep.json --out "$1" --jobs "$2" --threads-per-trial 1 --quiet >/dev/null 2>&1 &
    pid=$!
    while [ $kills -lt 6 ]; do
        left=$((8 - $(events "$1" 'segment","trial":[0-9]*,"until":1')))
        [ $left -ge 3 ] || break
        k=$((1 + RANDOM % ((left + 3) / 4)))
        await_run "$1" $pid $(($(events "$1" run) + k)) || break
        kill -KILL $pid 2>/dev/null
        wait $pid 2>/dev/null
        [ $? -eq 137 ] || { echo "the study ended before kill $((kills + 1))" >&2; break; } # 128 + SIGKILL
        kills=$((kills + 1))
        "$DNNTUNE" --resume "$1" --jobs "$2" --quiet >/dev/null 2>>"$1.err" &
        pid=$!
    done
    wait $pid 2>/dev/null
    echo $kills
}
for jobs in 1 2; do
    kills=$(kill_and_resume sk$jobs $jobs)
    echo "$jobs jobs: killed $kills times" >&2
    expect 0 "the killed study resumed to its end ($jobs jobs)" -- "$DNNTUNE" --resume sk$jobs --quiet
    [ "$kills" -ge 2 ] || fail "the study was killed only $kills times"
    [ "$(grep -c '"event":"trial"' sk$jobs/study.jsonl)" -eq 8 ] || fail "each trial sampled once in the journal"
    [ "$(tail -n +2 sk$jobs/trials.csv | cut -d, -f1 | sort -n | tr '\n' ' ')" = "0 1 2 3 4 5 6 7 " ] &&
        ! tail -n +2 sk$jobs/trials.csv | cut -d, -f2 | grep -vqxE 'completed|pruned' || fail "$jobs jobs: each trial once, finished"
    grep -v "^$" sk$jobs.err 2>/dev/null | head -3 >&2
done
[ "$(cut -d, -f1-5,7- s0/trials.csv)" = "$(cut -d, -f1-5,7- sk1/trials.csv)" ] ||
    fail "killed and resumed differs from never killed: $(diff <(cut -d, -f1-5,7- s0/trials.csv) <(cut -d, -f1-5,7- sk1/trials.csv) | head -5)"

# killed after a trial's run ended, before the journal said so: resuming collects that segment and runs nothing
# again (an early-stopped run resumed would train on), and the study ends as it did
sed 's/"epochs": 6, "batch_size": 16}/"epochs": 20, "batch_size": 16, "early_stopping": {"monitor": "val_loss", "patience": 0}}/' wine.json >es.json
sed 's/"pruner": {[^}]*},//; s/"trials": 8/"trials": 3/; s/wine.json/es.json/' sweep.json >es-sweep.json
expect 0 "a study with early stopping" -- "$DNNTUNE" --config es-sweep.json --out es --jobs 1 --threads-per-trial 1 --quiet
grep -qE '"state":"completed","epochs":([1-9]|1[0-9]),' es/study.jsonl || fail "no trial stopped early"
cp -r es es-cut
last=$(grep -n '"event":"segment"' es/study.jsonl | tail -1 | cut -d: -f1)
head -n $((last - 1)) es/study.jsonl >es-cut/study.jsonl
trial=$(sed -n "${last}p" es/study.jsonl | grep -o '"trial":[0-9]*' | cut -d: -f2)
runs=$(grep -c '^== dnntune runs' "es-cut/trials/000$trial/dnntrain.log")
expect 0 "resumed after the cut" -- "$DNNTUNE" --resume es-cut --quiet
[ "$(grep -c '^== dnntune runs' "es-cut/trials/000$trial/dnntrain.log")" = "$runs" ] || fail "trial $trial ran again"
[ "$(cut -d, -f1-5,7- es/trials.csv)" = "$(cut -d, -f1-5,7- es-cut/trials.csv)" ] || fail "the cut study ended otherwise"

# SIGINT: trials checkpoint, the results so far are written, exit 130; --resume finishes. The study is stopped
# (SIGSTOP) once its first trial has started: a second dnntune on it is refused meanwhile, and the SIGINT is
# delivered with the study unfinished whatever the machine's speed, so exit 130 is always what is tested.
"$DNNTUNE" --config sweep.json --out si --jobs 2 --threads-per-trial 1 2>si.err &
pid=$!
if await_run si $pid 1 && kill -STOP $pid; then
    expect 4 "a study another dnntune works on" -- "$DNNTUNE" --resume si --quiet
    err_has "another dnntune"
    kill -INT $pid
    kill -CONT $pid
    wait $pid
    rc=$?
    [ $rc -eq 130 ] || fail "SIGINT: exit $rc, expected 130"
    grep -q -- "--resume si" si.err || fail "SIGINT message: $(tail -2 si.err)"
    [ -s si/trials.csv ] || fail "the results so far are written"
    [ "$(tail -n +2 si/trials.csv | wc -l)" -lt 8 ] || fail "an interrupted study finished every trial"
    expect 0 "resume after SIGINT" -- "$DNNTUNE" --resume si --quiet
    [ "$(tail -n +2 si/trials.csv | cut -d, -f1 | sort -n | tr '\n' ' ')" = "0 1 2 3 4 5 6 7 " ] ||
        fail "the study resumed after SIGINT has each trial once"
else
    fail "the SIGINT study ended before its first trial was seen"
fi

# refusals
cores=$(nproc)
expect 2 "more threads than cores" -- "$DNNTUNE" --config sweep.json --out x --jobs $((cores + 1)) --threads-per-trial 1
err_has "--jobs $((cores + 1)) x --threads-per-trial 1" "more than the $cores core"
expect 4 "a fresh study into a study's folder" -- "$DNNTUNE" --config sweep.json --out s1
err_has "s1 holds a study" "--resume s1" "--overwrite"
expect 4 "--resume where there is no study" -- "$DNNTUNE" --resume elsewhere
err_has "elsewhere" "no study"
expect 2 "--config and --resume" -- "$DNNTUNE" --config sweep.json --resume s1
expect 2 "no --config" -- "$DNNTUNE" --jobs 2
expect 2 "unknown option" -- "$DNNTUNE" --config sweep.json --jobz 2
err_has "did you mean --jobs"
sed 's/"loguniform": \[1e-3, 1e-1\]/"loguniform": [0, 1e-1]/' sweep.json >bad1.json
expect 2 "a bad distribution" -- "$DNNTUNE" --config bad1.json
err_has "bad1.json" 'space."optimizer.learning_rate": loguniform'
sed 's/model.layers.0.units/model.layers.0.unit/' sweep.json >bad2.json
expect 2 "a key the config does not have" -- "$DNNTUNE" --config bad2.json
err_has "bad2.json" 'space."model.layers.0.unit"'
expect 0 "--overwrite starts again" -- "$DNNTUNE" --config nopruner.json --out s1 --overwrite --quiet
[ "$(tail -n +2 s1/trials.csv | wc -l)" -eq 4 ] && [ ! -e s1/trials/0004 ] || fail "--overwrite left the old study's trials"
# every trial failing: the first failure's exit code and reason
sed 's/"loguniform": \[1e-3, 1e-1\]/"loguniform": [1e6, 1e7]/; s/"choice": \["adam", "sgd"\]/"choice": ["sgd"]/' nopruner.json >diverge.json
expect 5 "every trial diverges" -- "$DNNTUNE" --config diverge.json --out dv --quiet
err_has "no trial completed" "trial 0 failed" "diverged"
# the default folder
mkdir sub && cp quick.json wine.csv nopruner.json sub/
(cd sub && "$DNNTUNE" --config nopruner.json --quiet) && [ -s sub/tune/nopruner/best.json ] || fail "the default folder tune/<stem>"
finish
