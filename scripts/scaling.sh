#!/usr/bin/env bash
# The ring-allreduce cost model of docs/scaling.md: projected epoch time and parallel efficiency of the
# reference job (60,000 samples) on 2 to 64 processes, one per machine, over 10/25/100 GbE and InfiniBand,
# from a single process's step times measured by scripts/bench.sh.
#
# Usage: scripts/scaling.sh STEP100_MS STEP50_MS [BYTES=1077288] [BATCH=100]
#   STEP100_MS, STEP50_MS: one process's step at batches of 100 and 50 rows (1 thread): they split a step
#   into a part that grows with the rows (c per row) and a part that does not (f: the optimizer's update).
#   BYTES: the gradient (269,322 floats).
# Prints two markdown tables: strong scaling (the global batch stays BATCH, split p ways) and weak scaling
# (BATCH rows per process: the global batch grows to p x BATCH).
set -euo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
awk -v t100="$1" -v t50="$2" -v S="${3:-1077288}" -v B="${4:-100}" 'BEGIN {
    N = 60000
    c = (t100 - t50) / 50 / 1e3            # seconds per row
    f = t100 / 1e3 - 100 * c               # seconds per step, whatever its rows
    if (f < 0) { f = 0; c = t100 / 100 / 1e3 } # noisy figures: all of the step grows with the rows
    # networks: name, bandwidth in bytes/s, latency alpha in seconds (typical figures, see docs/scaling.md)
    n = split("10 GbE (TCP)|25 GbE (TCP)|100 GbE (TCP)|InfiniBand HDR (200 Gb/s)", name, "|")
    bw[1] = 1.17e9; al[1] = 25e-6
    bw[2] = 2.9e9;  al[2] = 20e-6
    bw[3] = 11e9;   al[3] = 15e-6
    bw[4] = 23e9;   al[4] = 1.5e-6
    t1 = N / B * (c * B + f)
    printf "one process: %.3f ms per step of %d rows (%.4f ms per row + %.3f ms per step), %.2f s per epoch\n\n",
        (c * B + f) * 1e3, B, c * 1e3, f * 1e3, t1
    for (mode = 0; mode < 2; mode++) {
        if (mode == 0) printf "Strong scaling: global batch %d split across p processes; epoch seconds (efficiency)\n\n", B
        else printf "Weak scaling: %d rows per process, global batch %d x p; epoch seconds (efficiency)\n\n", B, B
        printf "| network | allreduce at p = 64 |"
        for (p = 2; p <= 64; p *= 2) printf " p = %d |", p
        printf "\n| --- | --- |"
        for (p = 2; p <= 64; p *= 2) printf " --- |"
        printf "\n"
        for (k = 1; k <= n; k++) {
            ar64 = 2 * 63 / 64 * S / bw[k] + 2 * 63 * al[k]
            printf "| %s | %.2f ms |", name[k], ar64 * 1e3
            for (p = 2; p <= 64; p *= 2) {
                ar = 2 * (p - 1) / p * S / bw[k] + 2 * (p - 1) * al[k]
                if (mode == 0) tp = N / B * (c * B / p + f + ar)
                else tp = N / (B * p) * (c * B + f + ar)
                printf " %.3f (%.0f%%) |", tp, 100 * t1 / (p * tp)
            }
            printf "\n"
        }
        printf "\n"
    }
}'
