#!/usr/bin/env bash
# Install what is missing, build, and run every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_packages "${DNN_BUILD_PACKAGES[@]}" "${DNN_DATA_PACKAGES[@]}"
ensure_test_locale
build_dnn build
ctest --test-dir build --output-on-failure -j"$(nproc)"
