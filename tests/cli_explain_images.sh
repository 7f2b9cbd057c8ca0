#!/usr/bin/env bash
# Explanations of images on a Fashion-MNIST subset: the model-randomisation sanity check gives saliency a low
# rank correlation, integrated gradients are complete to 1% on average at 50 steps, the heat maps are drawn,
# and the trouser class's map shows two legs.
. "$(dirname "$0")/lib.sh"
need_fmnist
cd "$T"
fmnist_subset train 3000 sub
fmnist_subset t10k 200 subtest
cat >mlp.json <<'JSON'
{"seed": 42,
 "data": {"train": {"format": "idx", "images": "sub-images-idx3-ubyte"}, "normalize": "scale",
          "classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]},
 "model": {"layers": [{"type": "dense", "units": 256, "activation": "relu"}, {"type": "dense", "units": 256, "activation": "relu"},
                      {"type": "dense", "units": 10, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.001},
 "training": {"epochs": 5, "batch_size": 100}}
JSON
expect 0 "train the reference MLP on 3000 images" -- "$DNNTRAIN" --config mlp.json --out run --quiet
expect 0 "explain" -- "$DNNEVAL" --model run/ckpt.bin --data subtest-images-idx3-ubyte --explain saliency,integrated_gradients \
    --sanity --explain-samples 4 --report r.json --plot p
rho=$("$JSON_QUERY" r.json explanation.saliency.sanity.spearman)
ge 0.3 "$rho" && pass "saliency's rank correlation with a randomised network: $rho" ||
    fail "saliency: Spearman correlation with a randomised network $rho, expected a low one"
rel=$("$JSON_QUERY" r.json explanation.integrated_gradients.completeness.mean_rel)
ge 0.01 "$rel" && pass "integrated gradients at 50 steps: completeness off by $rel on average" ||
    fail "integrated gradients at 50 steps miss completeness by $rel on average"
for f in saliency-classes saliency-samples integrated_gradients-classes integrated_gradients-samples; do
    [ -s "p/$f.svg" ] || fail "no $f.svg"
done
[ "$(grep -c 'class="map"' p/integrated_gradients-classes.svg)" -eq 10 ] || fail "10 class maps"
[ "$(grep -c 'class="image"' p/saliency-samples.svg)" -eq 4 ] || fail "4 samples beside their maps"
[ "$("$JSON_QUERY" r.json explanation.integrated_gradients.classes.1.class)" = Trouser ] || fail "class 1 is Trouser"
# two legs: in the lower half of the trouser map, the middle columns (between the legs) carry less
# attribution than the strongest column on either side
"$JSON_QUERY" r.json explanation.integrated_gradients.classes.1.map | tr -d '[]' | tr , '\n' |
    awk 'NR > 14 * 28 && NR <= 27 * 28 { c = (NR - 1) % 28; s[c] += ($1 < 0 ? -$1 : $1) }
         END { for (c = 6; c <= 12; c++) if (s[c] > l) l = s[c]
               for (c = 16; c <= 22; c++) if (s[c] > r) r = s[c]
               m = s[13] < s[14] ? s[13] : s[14]
               printf "left %g middle %g right %g\n", l, m, r
               exit !(m < 0.6 * l && m < 0.6 * r) }' >legs.txt && pass "trouser map: $(cat legs.txt)" ||
    fail "the trouser map has no two legs: $(cat legs.txt)"
finish
