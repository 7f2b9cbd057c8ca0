#!/usr/bin/env bash
# Training you can steer and trust: exact resume (4 epochs = 2 + 2, and after SIGINT), refused shape changes,
# allowed optimizer changes, early stopping's best model, periodic checkpoints, SIGKILL at random moments,
# unwritable folders and full disks.
. "$(dirname "$0")/lib.sh"
need_fmnist
cd "$T"
fmnist_subset train 2000 sub
fmnist_subset t10k 500 subtest

# dropout, batchnorm, adam with a step schedule, l2, clipping: every piece of state a resume must carry
cat >ctl.json <<'JSON'
{"seed": 9,
 "data": {"train": {"format": "idx", "images": "sub-images-idx3-ubyte"},
          "test": {"format": "idx", "images": "subtest-images-idx3-ubyte"}, "validation_split": 0.1},
 "model": {"layers": [{"type": "dense", "units": 64, "activation": "relu", "l2": 0.0001},
                      {"type": "batchnorm"}, {"type": "dropout", "rate": 0.3},
                      {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy",
 "optimizer": {"type": "adam", "learning_rate": 0.002, "clip_norm": 5,
               "lr_schedule": {"type": "step", "step_size": 1, "gamma": 0.7}},
 "training": {"epochs": 4, "batch_size": 64, "early_stopping": {"monitor": "val_loss", "patience": 50}},
 "output": {"save_best": true}}
JSON

for th in 1 2; do
    expect 0 "4 epochs ($th threads)" -- "$DNNTRAIN" --config ctl.json --threads $th --out a$th --quiet
    expect 0 "2 epochs" -- "$DNNTRAIN" --config ctl.json --threads $th --out b$th --set training.epochs=2 --quiet
    expect 0 "resumed for 2 more" -- "$DNNTRAIN" --resume b$th/ckpt.bin --threads $th --set training.epochs=4 --quiet
    cmp -s a$th/ckpt.bin b$th/ckpt.bin || fail "$th threads: 4 epochs and 2 + 2 epochs differ"
    cmp -s a$th/best.bin b$th/best.bin || fail "$th threads: best.bin differs after resume"
    [ "$(wc -l <b$th/train.jsonl)" -eq 4 ] || fail "the resumed log continues the first (4 lines)"
done
[ "$("$JSON_QUERY" b1/report.json epochs_run)" = 4 ] || fail "report after resume"
# a resumed run stays in its checkpoint's folder, whatever output.dir says and wherever it is started
mkdir -p elsewhere && cp -r a1 moved
(cd elsewhere && "$DNNTRAIN" --resume ../moved/ckpt.bin --set training.epochs=5 --set output.dir=\"x\" --quiet) ||
    fail "resume from another folder"
[ "$(wc -l <moved/train.jsonl)" -eq 5 ] && [ ! -e elsewhere/x ] || fail "the resumed run left its folder"

# SIGINT mid-run: finish the batch, checkpoint, exit 130; resuming gives the uninterrupted run's bytes
sed 's/"epochs": 4/"epochs": 150/' ctl.json >long.json
expect 0 "an uninterrupted run" -- "$DNNTRAIN" --config long.json --threads 1 --out full --quiet
# signal at an event, not after a time (a loaded machine may finish any fixed share of the run first): once
# the log has 30 of the 150 epochs
"$DNNTRAIN" --config long.json --threads 1 --out cut 2>cut.err &
pid=$!
for i in $(seq 3000); do [ "$(cat cut/train.jsonl 2>/dev/null | wc -l)" -ge 30 ] && break; sleep 0.01; done
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ]; then
    pass "SIGINT exits 130"
    grep -q "interrupted" cut.err && grep -q "resume" cut.err || fail "SIGINT message: $(cat cut.err)"
    expect 0 "the interrupted checkpoint loads" -- "$DNNEVAL" --model cut/ckpt.bin --info
    expect 0 "resume after SIGINT" -- "$DNNTRAIN" --resume cut/ckpt.bin --threads 1 --quiet
    cmp -s full/ckpt.bin cut/ckpt.bin || fail "interrupted and resumed differs from uninterrupted"
else
    fail "SIGINT: exit $rc, expected 130 (the run may have finished before the signal)"
fi

# resuming may change how the network trains, not its shape
expect 2 "resume with another shape" -- "$DNNTRAIN" --resume a1/ckpt.bin --set model.layers.0.units=32
err_has "model.layers[0].units: the checkpoint has 64, the config 32" "cannot change the network's shape"
expect 2 "resume with another activation" -- "$DNNTRAIN" --resume a1/ckpt.bin --set model.layers.3.activation=sigmoid --set loss=mse
err_has "model.layers[3].activation"
cp -r a1 lr
expect 0 "resume with another learning rate" -- "$DNNTRAIN" --resume lr/ckpt.bin --set training.epochs=5 \
    --set optimizer.learning_rate=0.0005 --set optimizer.lr_schedule=null --quiet
[ "$(tail -1 lr/train.jsonl | "$JSON_QUERY" - lr)" = 0.00050000000000000001 ] || fail "the new learning rate is in the log"
expect 0 "--info" -- "$DNNEVAL" --model lr/ckpt.bin --info
grep -q '"learning_rate": 0.0005' "$T/out" || fail "the checkpoint records the new learning rate"
cp -r a1 opt
expect 0 "resume with another optimizer" -- "$DNNTRAIN" --resume opt/ckpt.bin --set training.epochs=5 \
    --set optimizer='{"type": "sgd", "learning_rate": 0.01, "momentum": 0.9}' --quiet

# early stopping on a run built to overfit: it stops, and ckpt.bin holds the best epoch's weights
fmnist_subset train 300 tiny
cat >over.json <<'JSON'
{"seed": 2,
 "data": {"train": {"format": "idx", "images": "tiny-images-idx3-ubyte"},
          "test": {"format": "idx", "images": "subtest-images-idx3-ubyte"}, "validation_split": 0.3},
 "model": {"layers": [{"type": "dense", "units": 256, "activation": "relu"}, {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.003},
 "training": {"epochs": 200, "batch_size": 20, "early_stopping": {"monitor": "val_loss", "patience": 4}},
 "output": {"save_best": true}}
JSON
expect 0 "overfit until early stopping" -- "$DNNTRAIN" --config over.json --quiet
run=$("$JSON_QUERY" runs/over/report.json epochs_run)
best=$("$JSON_QUERY" runs/over/report.json best_epoch)
echo "early stopping: stopped after $run epochs, best $best" >&2
[ "$("$JSON_QUERY" runs/over/report.json stopped_early)" = true ] || fail "early stopping did not stop"
[ "$run" -eq $((best + 5)) ] || fail "stopped after $run epochs, expected best $best + patience 4 + 1"
expect 0 "score ckpt.bin" -- "$DNNEVAL" --model runs/over/ckpt.bin --json
cp "$T/out" last.json
expect 0 "score best.bin" -- "$DNNEVAL" --model runs/over/best.bin --json
[ "$("$JSON_QUERY" last.json loss)" = "$("$JSON_QUERY" "$T/out" loss)" ] || fail "ckpt.bin does not hold the best epoch's weights"
[ "$("$JSON_QUERY" runs/over/report.json test.loss)" = "$("$JSON_QUERY" "$T/out" loss)" ] || fail "the report scores the best weights"

# periodic and numbered checkpoints
expect 0 "every 2 epochs, keep 2" -- "$DNNTRAIN" --config ctl.json --set training.epochs=7 --set output.every_epochs=2 \
    --set output.keep=2 --out keep --quiet
ls keep >keep.txt
[ "$(grep -c '^ckpt-' keep.txt)" -eq 2 ] && grep -qx ckpt-0006.bin keep.txt && grep -qx ckpt-0007.bin keep.txt ||
    fail "expected ckpt-0006.bin and ckpt-0007.bin only (the last 2): $(tr '\n' ' ' <keep.txt)"
[ "$("$DNNEVAL" --model keep/ckpt.bin --info | grep -c '^ *[0-9]')" -ge 7 ] || fail "ckpt.bin holds all 7 epochs"

# SIGKILL at 20 random moments of a run that checkpoints every epoch: ckpt.bin always loads and evaluates
sed 's/"epochs": 4/"epochs": 1/' ctl.json >k.json
expect 0 "a first checkpoint" -- "$DNNTRAIN" --config k.json --out kill --quiet
broken=0
for i in $(seq 20); do
    "$DNNTRAIN" --resume kill/ckpt.bin --set training.epochs=100000 --quiet 2>/dev/null &
    pid=$!
    sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    "$DNNEVAL" --model kill/ckpt.bin --quiet 2>>kill.err || broken=$((broken + 1))
done
[ $broken -eq 0 ] && pass "20 SIGKILLs, ckpt.bin always whole" || fail "$broken of 20 kills left a broken ckpt.bin: $(head -3 kill.err)"
expect 0 "the next run cleans up after a kill" -- "$DNNTRAIN" --resume kill/ckpt.bin --quiet
ls -a kill | grep -q '\.tmp\.' && fail "temporary files left after the next run"

# a folder that cannot be written is an error before the first epoch
mkdir ro
if [ "$(id -u)" -eq 0 ]; then chattr +i ro 2>/dev/null && locked=1 || locked=0; else chmod 555 ro && locked=1; fi
if [ "$locked" = 1 ]; then
    expect 4 "read-only output folder" -- "$DNNTRAIN" --config ctl.json --out ro
    err_has "ro" "not writable"
    grep -q "^epoch" "$T/err" && fail "it trained before finding the folder read-only"
    if [ "$(id -u)" -eq 0 ]; then chattr -i ro; else chmod 755 ro; fi
else
    skip "the read-only folder check: cannot make a folder read-only here (as root, chattr +i failed)"
fi

# a write that fails (a full disk, here a file-size limit) is exit 4 and leaves the previous checkpoint
cp -r a1 full-disk
cp full-disk/ckpt.bin before.bin
cp full-disk/best.bin before-best.bin
expect 4 "write failure under ulimit -f" -- bash -c "ulimit -f 64; exec '$DNNTRAIN' --resume full-disk/ckpt.bin --set training.epochs=5 --quiet"
err_has "full-disk/" "write failed" "File too large"
cmp -s before.bin full-disk/ckpt.bin && cmp -s before-best.bin full-disk/best.bin || fail "the failed write changed a checkpoint"
ls -a full-disk | grep -q '\.tmp\.' && fail "the failed write left its temporary file"

finish
