#!/usr/bin/env bash
# The malformed-input suite: every command against every broken input in tests/malformed (the cases of the
# earlier issues and what the fuzzers found). Each must exit with its code and name the offending file.
. "$(dirname "$0")/lib.sh"
M="$SRC_DIR/tests/malformed"
cd "$T"

# models to evaluate against: an IDX one (2x2 images, 4 classes) and a CSV one (a, b -> y in {x, z})
{ printf '\x00\x00\x08\x03'; be32 20; be32 2; be32 2; head -c 80 /dev/zero | tr '\0' '\7'; } >ok-images-idx3-ubyte
{ printf '\x00\x00\x08\x01'; be32 20; for i in $(seq 0 19); do printf "\\x0$((i % 4))"; done; } >ok-labels-idx1-ubyte
cat >idx.json <<'JSON'
{"data": {"train": {"format": "idx", "images": "ok-images-idx3-ubyte"}},
 "model": {"layers": [{"type": "dense", "units": 4, "activation": "softmax"}]}, "loss": "cross_entropy",
 "optimizer": "adam", "training": {"epochs": 1}}
JSON
printf 'a,b,y\n1,2,x\n3,4,z\n5,6,x\n' >ok.csv
cat >csv.json <<'JSON'
{"data": {"train": {"format": "csv", "path": "ok.csv", "label": "y"}},
 "model": {"layers": [{"type": "dense", "units": 2, "activation": "softmax"}]}, "loss": "cross_entropy",
 "optimizer": "adam", "training": {"epochs": 1}}
JSON
"$DNNTRAIN" --config idx.json --out idxrun --quiet || fail "training the IDX model"
"$DNNTRAIN" --config csv.json --out csvrun --quiet || fail "training the CSV model"

# inputs made here: too large to keep in git, or derived from a fresh checkpoint
{ printf 'a,b,y\n'; head -c $((17 << 20)) /dev/zero | tr '\0' '1'; printf ',2,x\n'; } >huge-field.csv
head -c 500 idxrun/ckpt.bin >truncated.bin
cp idxrun/ckpt.bin bit-flipped.bin
printf '\x55' | dd of=bit-flipped.bin bs=1 seek=333 conv=notrunc 2>/dev/null
{ cat idxrun/ckpt.bin; printf 'extra'; } >extended.bin
cp idx.json config-as-checkpoint.bin

n=0
while read -r code kind file extra; do
    case "$code" in '#'* | '') continue ;; esac
    n=$((n + 1))
    if [ "$extra" = made ]; then p="$T/$file"; else p="$M/$file"; fi
    named=$file
    case "$extra" in names:*) named=${extra#names:} ;; esac
    case $kind in
    idx-train) sed "s|ok-images-idx3-ubyte|$p|" idx.json >case.json
        expect "$code" "$kind $file" -- "$DNNTRAIN" --config case.json --out run-$n --quiet ;;
    idx-eval) expect "$code" "$kind $file" -- "$DNNEVAL" --model idxrun/ckpt.bin --data "$p" ;;
    csv-train) sed "s|ok.csv|$p|" csv.json >case.json
        expect "$code" "$kind $file" -- "$DNNTRAIN" --config case.json --out run-$n --quiet ;;
    csv-eval) expect "$code" "$kind $file" -- "$DNNEVAL" --model csvrun/ckpt.bin --data "$p" ;;
    csv-stream) sed "s|ok.csv|$p|" csv.json >case.json
        expect "$code" "$kind $file" -- "$DNNTRAIN" --config case.json --out run-$n --quiet --set data.train.stream=true ;;
    idx-stream) sed "s|ok-images-idx3-ubyte|$p|" idx.json >case.json
        expect "$code" "$kind $file" -- "$DNNTRAIN" --config case.json --out run-$n --quiet --set data.train.stream=true ;;
    config) expect "$code" "$kind $file" -- "$DNNTRAIN" --config "$p" --quiet ;;
    ckpt) expect "$code" "$kind $file (dnneval --info)" -- "$DNNEVAL" --model "$p" --info
        err_has "$named"
        expect "$code" "$kind $file (dnntrain --resume)" -- "$DNNTRAIN" --resume "$p" --out run-$n --quiet ;;
    *) fail "MANIFEST: unknown kind $kind" ;;
    esac
    err_has "$named"
    grep -qi "sanitizer\|segmentation\|core dumped" "$T/err" && fail "$kind $file crashed"
done <"$M/MANIFEST"
echo "$n malformed inputs checked" >&2
[ "$n" -ge 78 ] || fail "the manifest lost cases ($n)"
finish
