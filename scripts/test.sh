#!/usr/bin/env bash
# Install what is missing, build, and run every test through ctest:
#   1. the release build (with Open MPI: a missing MPI fails the build, it does not skip tests) and the
#      whole suite, the data-parallel tests under mpirun included;
#   2. the same suite on a build with AddressSanitizer and UndefinedBehaviorSanitizer (leak checks on), but for
#      the long accuracy gates (ctest label "slow") and the install and package checks (label "package", which
#      build programs against the library as a user would, without the sanitizers' runtime);
#   3. the fuzz targets (clang's libFuzzer): each replays its corpus, then fuzzes for FUZZ_SECONDS (20).
# scripts/test.sh --quick runs step 1 only. Everything a test needs is installed here, so a check that cannot
# run (a missing dataset, locale or tool) fails instead of being skipped (DNN_TEST_STRICT, as CI=true does).
set -euo pipefail
export DNN_TEST_STRICT=1
cd "$(dirname "$0")/.."
. scripts/deps.sh
quick=0
[ "${1:-}" = --quick ] && quick=1

ensure_packages "${DNN_BUILD_PACKAGES[@]}" "${DNN_DATA_PACKAGES[@]}" "${DNN_TEST_PACKAGES[@]}"
ensure_test_locale
ensure_onnxruntime
jobs=$(nproc)

echo "== release build"
build_dnn build -DDNN_MPI=ON
ctest --test-dir build --output-on-failure -j"$jobs"
[ $quick = 1 ] && exit 0

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
build_dnn build-asan -DDNN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDNN_MPI=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE 'slow|package'

echo "== fuzz targets: corpus replay and a bounded run"
ensure_packages "${DNN_FUZZ_PACKAGES[@]}"
# (without MPI: the parsers do not need it, and this keeps a build without MPI compiling)
build_dnn build-fuzz -DDNN_FUZZ=ON -DDNN_TESTS=OFF -DDNN_MPI=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFUZZ_SECONDS="${FUZZ_SECONDS:-20}"
ctest --test-dir build-fuzz --output-on-failure -j"$jobs"
