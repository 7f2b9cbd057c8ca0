# Sourced by the scripts: install the Debian packages that are missing, with apt-get (as root, or via sudo).
# Usage: ensure_packages PKG...
ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: missing packages (${missing[*]}) and no apt-get to install them; install the equivalents of: ${missing[*]}" >&2
        exit 1
    fi
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    echo "Installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq || true
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The CSV tests also check that a German locale (decimal comma) changes nothing; generate it when we can.
ensure_test_locale() {
    locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$' && return 0
    ensure_packages locales
    if [ "$(id -u)" -eq 0 ]; then localedef -i de_DE -f UTF-8 de_DE.UTF-8 2>/dev/null || true
    else sudo localedef -i de_DE -f UTF-8 de_DE.UTF-8 2>/dev/null || true; fi
}

# What building and testing dnn needs on Debian 12 (Open MPI: data-parallel training with mpirun).
DNN_BUILD_PACKAGES=(build-essential cmake pkg-config libopenblas-dev libcjson-dev zlib1g-dev libopenmpi-dev openmpi-bin)
DNN_DATA_PACKAGES=(dataset-fashion-mnist)
# The tests check SVG and HTML with xmllint and render the man pages; the fuzz targets need clang's libFuzzer.
DNN_TEST_PACKAGES=(libxml2-utils man-db groff-base)
DNN_FUZZ_PACKAGES=(clang libclang-rt-14-dev)

# Configure and build into DIR (default build), Release unless told otherwise.
build_dnn() {
    local dir=${1:-build}
    shift || true
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)"
}
