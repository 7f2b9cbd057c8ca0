#!/usr/bin/env bash
# Convolutional networks end to end on a Fashion-MNIST subset: the layer table, training, evaluation,
# predictions, exact resume with batchnorm and dropout after convolutions, early stopping; shape errors
# before any data is read; CSV images through data.shape.
. "$(dirname "$0")/lib.sh"
need_fmnist
cd "$T"
fmnist_subset train 1000 sub
fmnist_subset t10k 300 subtest

cat >cnn.json <<'JSON'
{"seed": 3,
 "data": {"train": {"format": "idx", "images": "sub-images-idx3-ubyte"},
          "test": {"format": "idx", "images": "subtest-images-idx3-ubyte"}, "validation_split": 0.1},
 "model": {"layers": [{"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
                      {"type": "batchnorm", "momentum": 0.9}, {"type": "dropout", "rate": 0.2},
                      {"type": "maxpool2d", "pool_size": 2},
                      {"type": "conv2d", "filters": 16, "kernel_size": 3, "stride": 2, "padding": 1, "activation": "relu"},
                      {"type": "avgpool2d", "pool_size": [1, 7]},
                      {"type": "flatten"},
                      {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy",
 "optimizer": {"type": "adam", "learning_rate": 0.01},
 "training": {"epochs": 4, "batch_size": 50, "early_stopping": {"monitor": "val_loss", "patience": 50}},
 "output": {"save_best": true}}
JSON

# the layer table, like Keras's summary(), with --verbose and in --info
expect 0 "train a small CNN" -- "$DNNTRAIN" --config cnn.json --out a --threads 1 --verbose
err_has "conv2d 8 3x3 relu pad 1x1" "8x28x28" "maxpool2d 2x2" "16x7x7" "avgpool2d 1x7" "16x7x1" "total"
acc=$("$JSON_QUERY" a/report.json test.accuracy)
ge "$acc" 0.6 || fail "a small CNN on 1000 samples reaches only $acc"
[ -s a/curves.svg ] && [ -s a/report.html ] && [ -s a/best.bin ] || fail "run folder incomplete"
expect 0 "--info" -- "$DNNEVAL" --model a/ckpt.bin --info
grep -q "inputs     784 (1x28x28)" "$T/out" && grep -q "conv2d 16 3x3 relu stride 2x2 pad 1x1" "$T/out" &&
    grep -q "batchnorm  *8x28x28  *16" "$T/out" || fail "--info lacks the layer table: $(cat "$T/out")"

# evaluation, predictions
expect 0 "evaluate" -- "$DNNEVAL" --model a/ckpt.bin --json --predict preds.csv
[ "$("$JSON_QUERY" "$T/out" accuracy)" = "$acc" ] || fail "dnneval and dnntrain disagree on test accuracy"
[ "$(wc -l <preds.csv)" -eq 301 ] || fail "--predict: 300 rows and a header"

# exact resume: 4 epochs = 2 + 2, with batchnorm and dropout after convolutions, on 2 threads
expect 0 "4 epochs" -- "$DNNTRAIN" --config cnn.json --out full --threads 2 --quiet
expect 0 "2 epochs" -- "$DNNTRAIN" --config cnn.json --out half --threads 2 --set training.epochs=2 --quiet
expect 0 "2 more" -- "$DNNTRAIN" --resume half/ckpt.bin --threads 2 --set training.epochs=4 --quiet
cmp -s full/ckpt.bin half/ckpt.bin || fail "4 epochs and 2 + 2 epochs differ"
cmp -s full/best.bin half/best.bin || fail "best.bin differs after resume"
expect 2 "a resumed run cannot change a kernel" -- "$DNNTRAIN" --resume half/ckpt.bin --set model.layers.4.kernel_size=5 --quiet
err_has "model.layers[4].kernel_size: the checkpoint has [3, 3], the config [5, 5]" "cannot change"
expect 2 "nor the input shape" -- "$DNNTRAIN" --resume half/ckpt.bin --set 'data.shape=[4,14,14]' --quiet
err_has "data.shape" "1x28x28" "[4, 14, 14]"

# early stopping restores the best epoch's weights
expect 0 "early stopping" -- "$DNNTRAIN" --config cnn.json --out es --threads 1 --quiet --set training.epochs=8 \
    --set 'training.early_stopping={"monitor": "val_loss", "patience": 0}'
[ "$("$JSON_QUERY" es/report.json stopped_early)" = true ] || [ "$("$JSON_QUERY" es/report.json epochs_run)" = 8 ] ||
    fail "early stopping report"

# shapes that do not fit: exit 2 naming the layer and both shapes, before the data is read (the labels
# file is missing, which reading would report with exit 4)
expect 2 "a kernel larger than the image" -- "$DNNTRAIN" --config cnn.json --out e1 \
    --set model.layers.0.kernel_size=29 --set model.layers.0.padding=\"valid\" --set data.train.labels=\"missing-labels\"
err_has "cnn.json: model.layers[0] (conv2d): its 29x29 kernel is larger than its input 1x28x28"
expect 2 "a pool that does not tile" -- "$DNNTRAIN" --config cnn.json --out e2 \
    --set model.layers.3.pool_size=3 --set data.train.labels=\"missing-labels\"
err_has "model.layers[3] (maxpool2d)" "3x3 pool with stride 3x3 leaves the last row of its input 8x28x28 unread"
expect 2 "dense on feature maps" -- "$DNNTRAIN" --config cnn.json --out e3 --set model.layers.6.type=dropout \
    --set model.layers.6.rate=0.1 --set data.train.labels=\"missing-labels\"
err_has "model.layers[7] (dense)" "16x7x1 feature maps" "flatten"
expect 3 "data.shape that does not match the images" -- "$DNNTRAIN" --config cnn.json --out e4 --set 'data.shape=[1,20,20]'
err_has "sub-images-idx3-ubyte" "784 values per item" "[1, 20, 20]"
{ printf '\x00\x00\x08\x03'; be32 10; be32 20; be32 20; head -c 4000 /dev/zero; } >small-images-idx3-ubyte
{ printf '\x00\x00\x08\x01'; be32 10; head -c 10 /dev/zero; } >small-labels-idx1-ubyte
expect 3 "images of another size" -- "$DNNEVAL" --model a/ckpt.bin --data small-images-idx3-ubyte
err_has "small-images-idx3-ubyte" "400 features" "images of 1x28x28"

# CSV images: 2x3x3 pictures of a cross or four corners, as 18 pixel columns and a label, through data.shape
awk 'BEGIN { srand(4); print "p1,p2,p3,p4,p5,p6,p7,p8,p9,q1,q2,q3,q4,q5,q6,q7,q8,q9,shape"
    split("0 1 0 1 1 1 0 1 0", cross); split("1 0 1 0 0 0 1 0 1", corners)
    for (i = 0; i < 300; i++) { c = i % 2; line = ""
        for (k = 1; k <= 18; k++) { j = (k - 1) % 9 + 1; v = (c ? cross[j] : corners[j]) * (0.5 + rand() / 2) + rand() / 4
            line = line sprintf("%.3f,", v) }
        print line (c ? "cross" : "corners") } }' >pics.csv
cat >pics.json <<'JSON'
{"seed": 1, "data": {"train": {"format": "csv", "path": "pics.csv", "label": "shape"}, "shape": [2, 3, 3],
                     "normalize": "none"},
 "model": {"layers": [{"type": "conv2d", "filters": 4, "kernel_size": 2, "activation": "relu"},
                      {"type": "global_avgpool"},
                      {"type": "dense", "units": 2, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.05},
 "training": {"epochs": 30, "batch_size": 20}}
JSON
expect 0 "a CNN on CSV images" -- "$DNNTRAIN" --config pics.json --out pics --threads 1 --quiet
expect 0 "scored on its CSV" -- "$DNNEVAL" --model pics/ckpt.bin --data pics.csv --json
ge "$("$JSON_QUERY" "$T/out" accuracy)" 0.95 || fail "crosses and corners: accuracy $("$JSON_QUERY" "$T/out" accuracy)"
expect 2 "CSV images need data.shape" -- "$DNNTRAIN" --config pics.json --out p2 --set data.shape=null
err_has "pics.json: data.shape" "model.layers[0] (conv2d) works on images"
expect 3 "data.shape must fit the columns" -- "$DNNTRAIN" --config pics.json --out p3 --set 'data.shape=[1,4,4]'
err_has "pics.csv" "18 features per sample" "[1, 4, 4] makes 16"
finish
