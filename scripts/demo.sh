#!/usr/bin/env bash
# Install what is missing, build, train the reference MLP on Fashion-MNIST and evaluate it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_packages "${DNN_BUILD_PACKAGES[@]}" "${DNN_DATA_PACKAGES[@]}"
build_dnn build
echo "== dnntrain --config configs/mlp.json"
build/dnntrain --config configs/mlp.json
echo
echo "== dnneval --model runs/mlp/ckpt.bin"
build/dnneval --model runs/mlp/ckpt.bin
