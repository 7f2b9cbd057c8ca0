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
# The tests check SVG and HTML with xmllint and render the man pages; they check ONNX exports with onnx's
# checker (python3-onnx) and build, inspect and lint the Debian package (dpkg-dev and file for cpack's
# dependency scan, lintian); the fuzz targets need clang's libFuzzer.
DNN_TEST_PACKAGES=(libxml2-utils man-db groff-base python3-onnx python3-numpy dpkg-dev file lintian)
DNN_FUZZ_PACKAGES=(clang libclang-rt-14-dev)

# Configure and build into DIR (default build), Release unless told otherwise.
build_dnn() {
    local dir=${1:-build}
    shift || true
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)"
}

# ONNX Runtime for the ONNX export tests, from the npm registry, installed once into a cache folder shared by
# every checkout (reused while its version matches). ONNXRUNTIME_NODE_INSTALL=skip: the package ships the CPU
# runtime, and its install script would otherwise try to download a GPU add-on, which fails offline.
DNN_ORT_VERSION=1.30.0
DNN_NODE_CACHE=${DNN_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dnn/node}
ensure_onnxruntime() {
    local pkg=$DNN_NODE_CACHE/node_modules/onnxruntime-node/package.json
    grep -qs "\"version\": \"$DNN_ORT_VERSION\"" "$pkg" && return 0
    # Node.js from Debian unless one is installed already (a nodejs from elsewhere ships its own npm, which
    # Debian's npm package would conflict with)
    command -v npm >/dev/null 2>&1 || ensure_packages nodejs npm
    echo "Installing onnxruntime-node@$DNN_ORT_VERSION into $DNN_NODE_CACHE" >&2
    mkdir -p "$DNN_NODE_CACHE" &&
        ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$DNN_NODE_CACHE" --no-audit --no-fund \
            --loglevel=error "onnxruntime-node@$DNN_ORT_VERSION" >&2 &&
        grep -qs "\"version\": \"$DNN_ORT_VERSION\"" "$pkg" || {
        echo "error: could not install onnxruntime-node@$DNN_ORT_VERSION from the npm registry into $DNN_NODE_CACHE" >&2
        return 1
    }
}
