#!/bin/bash
# mesh-1000 against the tier chain for two binaries side by side (docs/performance.md, "Big
# meshes"): ROUNDS interleaved rounds, each running mesh-1000 and tiers.toml for 20 s simulated
# with BEFORE and then AFTER, and reading the events per wall second each prints on its `engine`
# line. Prints every round, then per binary the median of each scenario's rate and of the
# per-round ratio mesh-1000 / tiers (issue 18's target: at least 0.7), and the load average
# before and after (the machine's drift moves a whole round; the ratio within a round and the
# two binaries' medians are what to compare).
# Usage: benches/ab_ratio.sh BEFORE AFTER [ROUNDS]   (default 7 rounds). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
before=$1 after=$2 rounds=${3:-7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Events per wall second of the simulation loop (M/s), from a run's `engine` line.
rate() {
    "$1" run "$2" --set scenario.duration=20s --out "$work/out" 2>&1 |
        awk '/engine/ { for (i = 1; i <= NF; i++) if ($i == "M") print $(i - 1) }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$rounds"); do
    line="round $round:"
    for which in before after; do
        binary=${!which}
        mesh=$(rate "$binary" scenarios/systems/mesh-1000.toml)
        tiers=$(rate "$binary" scenarios/tiers.toml)
        ratio=$(awk -v a="$mesh" -v b="$tiers" 'BEGIN { printf "%.3f", a / b }')
        echo "$mesh" >>"$work/$which.mesh"
        echo "$tiers" >>"$work/$which.tiers"
        echo "$ratio" >>"$work/$which.ratio"
        line="$line $which mesh-1000 $mesh M/s, tiers $tiers M/s, ratio $ratio;"
    done
    echo "$line"
done
for which in before after; do
    echo "$which (${!which}): medians mesh-1000 $(median <"$work/$which.mesh") M/s," \
        "tiers $(median <"$work/$which.tiers") M/s, ratio $(median <"$work/$which.ratio")" \
        "(target: at least 0.7)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
