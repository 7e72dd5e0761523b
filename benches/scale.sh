#!/bin/sh
# Speed and memory at scale (docs/performance.md, "Big meshes"). Measures, each under
# /usr/bin/time (CPU = user + sys; peak RSS, which machine load does not change):
#   1. scenarios/systems/mesh-1000.toml, 60 s simulated: peak RSS, CPU, events per CPU second;
#   2. generated 10,000-service meshes at 100 requests/s for 60 s (alibaba and tree shapes,
#      scenarios/systems/generate-mesh.sh): CPU, peak RSS;
#   3. `meshsim validate` of a generated 20,000-service mesh: CPU;
#   4. mesh-1000 against the tier chain, ROUNDS interleaved rounds (default 3): the events per
#      wall second each prints on its `engine` line, and their ratio per round.
# Usage: benches/scale.sh [ROUNDS]   (MESHSIM=path to use a built binary; default: builds the
# `fast` profile). Run from anywhere.
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
if [ -z "${MESHSIM:-}" ]; then
    cargo build --profile fast --quiet
    MESHSIM=target/fast/meshsim
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs "$@" under /usr/bin/time; prints "CPU s, peak RSS MB" and keeps its output in $work/out.
measure() {
    /usr/bin/time -f '%U %S %M' -o "$work/time" "$@" >"$work/out" 2>&1
    awk '{ printf "%.2f s CPU, %.1f MB peak RSS", $1 + $2, $3 / 1024 }' "$work/time"
}
# Events handled, from a run's `engine` line.
events() { awk '/engine/ { print $2 }' "$work/out"; }
# Events per wall second of the simulation loop, from a run's `engine` line (M/s).
rate() { awk '/engine/ { for (i = 1; i <= NF; i++) if ($i == "M") print $(i - 1) }' "$work/out"; }
cpu() { awk '{ print $1 + $2 }' "$work/time"; }

echo "mesh-1000, 60 s: $(measure "$MESHSIM" run scenarios/systems/mesh-1000.toml --out "$work/m")," \
    "$(events) events, $(awk -v e="$(events)" -v c="$(cpu)" 'BEGIN { printf "%.2f", e / c / 1e6 }') M events per CPU second"

for shape in alibaba tree; do
    sh scenarios/systems/generate-mesh.sh "$shape" 10000 >"$work/$shape.toml"
    echo "10,000 services, $shape ($(sed -n 2p "$work/$shape.toml" | sed 's/^# //')):"
    echo "    $(measure "$MESHSIM" run "$work/$shape.toml" --out "$work/$shape"), $(events) events"
done

sh scenarios/systems/generate-mesh.sh alibaba 20000 >"$work/big.toml"
echo "validate 20,000 services: $(measure "$MESHSIM" validate "$work/big.toml")"

echo "mesh-1000 / tier chain, events per wall second of the simulation loops, interleaved:"
round=1
while [ "$round" -le "$rounds" ]; do
    measure "$MESHSIM" run scenarios/systems/mesh-1000.toml --set scenario.duration=20s \
        --out "$work/mr" >/dev/null
    mesh=$(rate)
    measure "$MESHSIM" run scenarios/tiers.toml --set scenario.duration=20s --out "$work/tr" >/dev/null
    tiers=$(rate)
    echo "    round $round: mesh-1000 $mesh M/s, tiers $tiers M/s, ratio" \
        "$(awk -v a="$mesh" -v b="$tiers" 'BEGIN { printf "%.2f", a / b }')"
    round=$((round + 1))
done
