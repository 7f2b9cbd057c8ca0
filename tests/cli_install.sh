#!/usr/bin/env bash
# Installing dnn as its users do: cmake --install into a prefix, then examples/predict.c built against it
# through pkg-config and through find_package (shared and static), its predictions equal to dnneval's; what
# libdnn.so exports; the bash completion; and the Debian package cpack makes (its files and dependencies,
# lintian's verdict, and the example built against its contents).
. "$(dirname "$0")/lib.sh"
cd "$T"
for tool in pkg-config cpack dpkg-deb lintian nm objdump c++; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
LIBDIR=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$BUILD_DIR/CMakeCache.txt")

# a small model, its test rows, and dnneval's predictions
awk 'BEGIN { srand(7); print "x1,x2,x3,kind";
    for (i = 0; i < 600; i++) { c = i % 3; printf "%.4f,%.4f,%s,%s\n", c + rand(), 2 * rand() - c, i % 7 ? sprintf("%.3f", 10 * rand()) : "",
        c == 0 ? "low" : c == 1 ? "mid" : "high" } }' >data.csv
cat >m.json <<'JSON'
{"seed": 1, "data": {"train": {"format": "csv", "path": "data.csv", "missing": "mean"}, "normalize": "standardize"},
 "model": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dense", "units": 3, "activation": "softmax"}]},
 "loss": "cross_entropy", "optimizer": {"type": "adam", "learning_rate": 0.02}, "training": {"epochs": 5, "batch_size": 50}}
JSON
expect 0 "train a model" -- "$DNNTRAIN" --config m.json --quiet
expect 0 "dnneval --predict" -- "$DNNEVAL" --model runs/m/ckpt.bin --data data.csv --predict pred.csv --quiet
tail -n +2 data.csv | cut -d, -f1-3 >rows.csv

# same_predictions NAME FILE: FILE (the example's "class,p..." rows) says what dnneval --predict says: the same
# classes, and probabilities equal within dnneval's 6 printed digits
same_predictions() {
    awk -F, 'NR == FNR { if (FNR > 1) { cls[FNR - 1] = $2; for (j = 3; j <= NF; j++) p[FNR - 1, j - 2] = $j }; next }
        { n++; if ($1 != cls[FNR]) { print "row " FNR ": class " $1 ", dnneval " cls[FNR]; bad = 1 }
          for (j = 2; j <= NF; j++) { d = $j - p[FNR, j - 1]; if (d < 0) d = -d
              if (d > 1e-5 * ($j < 0 ? -$j : $j) + 1e-9) { print "row " FNR ": " $j " vs " p[FNR, j - 1]; bad = 1 } } }
        END { exit bad || n != 600 }' pred.csv "$2" >cmp.txt || { fail "$1: predictions differ from dnneval's"; head -5 cmp.txt >&2; }
}

# 1. cmake --install
P=$T/prefix
expect 0 "cmake --install" -- cmake --install "$BUILD_DIR" --prefix "$P"
for f in bin/dnntrain bin/dnneval bin/dnntune include/dnn.h "$LIBDIR/libdnn.so" "$LIBDIR/libdnn.so.0" "$LIBDIR/libdnn.a" \
    "$LIBDIR/pkgconfig/dnn.pc" "$LIBDIR/cmake/dnn/dnnConfig.cmake" "$LIBDIR/cmake/dnn/dnnConfigVersion.cmake" \
    share/man/man1/dnntrain.1.gz share/man/man1/dnneval.1.gz share/man/man1/dnntune.1.gz \
    share/bash-completion/completions/dnntrain share/bash-completion/completions/dnneval \
    share/bash-completion/completions/dnntune; do
    [ -e "$P/$f" ] || fail "cmake --install did not install $f"
done
[ "$(readlink "$P/$LIBDIR/libdnn.so.0")" = libdnn.so.0.1.0 ] || fail "libdnn.so.0 -> $(readlink "$P/$LIBDIR/libdnn.so.0")"
objdump -p "$P/$LIBDIR/libdnn.so.0" | grep -q 'SONAME *libdnn.so.0$' || fail "libdnn's soname is not libdnn.so.0"
MANPATH=$P/share/man man -w dnneval >/dev/null 2>&1 || fail "man does not find the installed dnneval page"

# libdnn.so exports dnn.h's functions and nothing else
grep -o '^DNN_API [^(]*(' "$P/include/dnn.h" | sed 's/.*[ *]\(dnn_[a-z_]*\)($/\1/' | sort >api.txt
nm -D --defined-only "$P/$LIBDIR/libdnn.so.0" | awk '$2 ~ /^[TtWwiDdBb]$/ { sub(/@.*/, "", $3); print $3 }' | sort >exported.txt
[ "$(wc -l <api.txt)" -ge 11 ] || fail "dnn.h declares $(wc -l <api.txt) functions"
cmp -s api.txt exported.txt || { fail "libdnn.so exports other than dnn.h's functions"; diff api.txt exported.txt >&2; }
echo "libdnn.so exports $(wc -l <exported.txt) functions, dnn.h's" >&2

# the public header stands alone, in C and C++, with every warning
printf '#include <dnn.h>\nint main(void) { return dnn_predictor_n_features(0); }\n' >h.c
expect 0 "dnn.h in C99" -- cc -std=c99 -Wall -Wextra -Wpedantic -Werror -I"$P/include" -c h.c -o h.o
expect 0 "dnn.h in C++" -- c++ -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -I"$P/include" -c h.c -o hpp.o

# 2. through pkg-config
export PKG_CONFIG_PATH=$P/$LIBDIR/pkgconfig
expect 0 "pkg-config knows dnn" -- pkg-config --exists --print-errors "dnn >= 0.1"
expect 0 "examples/predict.c via pkg-config" -- sh -c "cc -std=c11 -Wall -Wextra -Werror '$SRC_DIR/examples/predict.c' \
    \$(pkg-config --cflags --libs dnn) -Wl,-rpath,'$P/$LIBDIR' -o predict-pc"
expect 0 "run it" -- sh -c "./predict-pc runs/m/ckpt.bin <rows.csv >pc.csv"
same_predictions "pkg-config build" pc.csv

# 3. through find_package, shared and static
expect 0 "examples/ via find_package(dnn)" -- sh -c "cmake -S '$SRC_DIR/examples' -B ex -DCMAKE_PREFIX_PATH='$P' \
    -DCMAKE_BUILD_TYPE=Release && cmake --build ex"
expect 0 "run the shared build" -- sh -c "ex/predict runs/m/ckpt.bin <rows.csv >fp.csv"
expect 0 "run the static build" -- sh -c "ex/predict_static runs/m/ckpt.bin <rows.csv >fps.csv"
cmp -s pc.csv fp.csv && cmp -s pc.csv fps.csv || fail "the find_package builds predict otherwise than the pkg-config one"
ldd ex/predict | grep -q "$P/$LIBDIR/libdnn.so.0" || fail "the shared build does not load the installed libdnn.so.0"
! ldd ex/predict_static | grep -q "libdnn\.so" || fail "the static build needs libdnn.so"

# 4. bash completion, as bash-completion loads it: the flags from --help, values, files
complete_words() { # complete_words CMD WORD...: COMPREPLY for the last word
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _dnn; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$P/share/bash-completion/completions/dnneval" "$@"
}
for cmd in "$DNNTRAIN" "$DNNEVAL" "$DNNTUNE"; do
    complete_words "$cmd" -- >flags.txt
    "$cmd" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u >help.txt
    cmp -s flags.txt help.txt || { fail "$(basename "$cmd"): completion offers other flags than --help"; diff flags.txt help.txt >&2; }
done
[ "$(complete_words "$DNNEVAL" --model m.bin --exp)" = "$(printf -- '--explain\n--explain-samples\n--export')" ] ||
    fail "--exp does not complete to --explain, --explain-samples and --export"
[ "$(complete_words "$DNNEVAL" --model m.bin --scoring l)" = loss ] || fail "--scoring l does not complete to loss"
[ "$(complete_words "$DNNEVAL" --header '' | tr '\n' ' ')" = "true false auto " ] || fail "--header values"
mkdir -p cfg && touch cfg/a.json cfg/b.txt
[ "$(complete_words "$DNNTRAIN" --config cfg/ | tr '\n' ' ')" = "cfg/a.json " ] || fail "--config completes .json files"

# 5. the Debian package
expect 0 "cpack -G DEB" -- cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B pkg
deb=$(ls pkg/dnn_*_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
    fail "cpack made no .deb"
    finish
fi
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./||' >contents.txt
for f in usr/bin/dnntrain usr/bin/dnneval usr/bin/dnntune usr/include/dnn.h "usr/$LIBDIR/libdnn.so.0.1.0" "usr/$LIBDIR/libdnn.so.0" \
    "usr/$LIBDIR/libdnn.so" "usr/$LIBDIR/libdnn.a" "usr/$LIBDIR/pkgconfig/dnn.pc" "usr/$LIBDIR/cmake/dnn/dnnConfig.cmake" \
    usr/share/man/man1/dnneval.1.gz usr/share/man/man1/dnntune.1.gz usr/share/bash-completion/completions/dnntune \
    usr/share/doc/dnn/copyright \
    usr/share/doc/dnn/changelog.gz; do
    grep -qx "$f" contents.txt || fail "the package lacks $f"
done
depends=$(dpkg-deb -f "$deb" Depends)
for p in libc6 libopenblas0 libcjson1 zlib1g; do
    echo "$depends" | grep -q "$p" || fail "the package's Depends lacks $p: $depends"
done
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes, $(grep -c '[^/]$' contents.txt) files; Depends: $depends" >&2
# lintian: no error or warning but those packaging/lintian-overrides explains
lintian --fail-on error,warning "$deb" >lintian.txt 2>&1 || { fail "lintian"; cat lintian.txt >&2; }
# the package's contents, unpacked, as a user's system would have them
expect 0 "unpack the package" -- dpkg-deb -x "$deb" root
export PKG_CONFIG_SYSROOT_DIR=$T/root PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=$T/root/usr/$LIBDIR/pkgconfig
expect 0 "examples/predict.c against the package" -- sh -c "cc -std=c11 '$SRC_DIR/examples/predict.c' \
    \$(pkg-config --cflags --libs dnn) -o predict-deb"
expect 0 "run it" -- sh -c "LD_LIBRARY_PATH='$T/root/usr/$LIBDIR' ./predict-deb runs/m/ckpt.bin <rows.csv >deb.csv"
cmp -s pc.csv deb.csv || fail "the package's library predicts otherwise"
expect 0 "the packaged dnneval runs" -- root/usr/bin/dnneval --model runs/m/ckpt.bin --quiet --data data.csv
finish
