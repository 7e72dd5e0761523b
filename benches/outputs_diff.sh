#!/bin/sh
# Byte-for-byte comparison of two meshsim binaries' outputs over every committed scenario
# (docs/performance.md, "Big meshes": a speed change must not change a result).
#
#   benches/outputs_diff.sh BEFORE AFTER [DURATION]
#
# Runs `BEFORE run` and `AFTER run` on every *.toml under scenarios/ (imported topologies and
# the generated meshes' scripts excepted: they are not scenarios), each with
# `--set scenario.duration=DURATION --set scenario.warmup=1s` (default 20s: long enough for
# several windows and most scenarios' first faults), plus mesh-1000 over its full 60 s, and
# compares summary.json, timeseries.csv, replicas.csv, events.csv and latency.csv. Prints one
# line per scenario and exits 1 if any file differs.
set -eu
before=${1:?usage: outputs_diff.sh BEFORE AFTER [DURATION]}
after=${2:?usage: outputs_diff.sh BEFORE AFTER [DURATION]}
duration=${3:-20s}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
compare() {
    name=$1
    shift
    "$before" run "$@" --quiet --out "$work/before" >"$work/before.log" 2>&1 || true
    "$after" run "$@" --quiet --out "$work/after" >"$work/after.log" 2>&1 || true
    differ=""
    for file in summary.json timeseries.csv replicas.csv events.csv latency.csv; do
        if ! cmp -s "$work/before/$file" "$work/after/$file"; then
            differ="$differ $file"
        fi
    done
    if ! cmp -s "$work/before.log" "$work/after.log"; then
        differ="$differ (exit messages)"
    fi
    if [ -n "$differ" ]; then
        echo "DIFFERS $name:$differ"
        status=1
    else
        echo "same    $name ($(wc -l <"$work/after/timeseries.csv") timeseries rows)"
    fi
    rm -rf "$work/before" "$work/after"
}
for scenario in $(find scenarios -name '*.toml' -not -path '*/topologies/*' | sort); do
    compare "$scenario" "$scenario" --set "scenario.duration=$duration" --set scenario.warmup=1s
done
compare "scenarios/systems/mesh-1000.toml (60 s)" scenarios/systems/mesh-1000.toml
exit $status
