#!/bin/bash
# Two binaries (or two settings of one) at the same time, one on each of the machine's two cores:
# both meet the same load from the rest of the machine, so their ratio varies far less between
# rounds than that of runs one after the other (docs/performance.md, "Paired rounds"). Each round
# swaps the cores and the order in which the two start. Prints each round's CPU seconds (user +
# sys of the whole process) and B/A, then the medians.
# Usage: benches/paired.sh A B ROUNDS ARGS...   (A, B: binaries, or "ENV=value ... binary";
# ARGS: a `meshsim` command line, to which each run adds its own `--out`)
# e.g.   benches/paired.sh target/release/meshsim /tmp/before 10 run /tmp/tree.toml \
#            --set scenario.duration=4s --omit-idle-rows --quiet
# Needs taskset (util-linux) and GNU time at /usr/bin/time; runs from anywhere.
set -euo pipefail
a=$1 b=$2 rounds=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for round in $(seq 1 "$rounds"); do
    # Odd rounds: A on core 0, started first; even rounds: B on core 0, started first.
    if [ $((round % 2)) = 1 ]; then order="a b"; else order="b a"; fi
    core=0
    pids=()
    for which in $order; do
        # shellcheck disable=SC2086 # split on purpose: leading VAR=value words are the environment
        taskset -c $core /usr/bin/time -f "%U %S" -o "$work/$which.time" \
            env ${!which} "$@" --out "$work/$which" >/dev/null 2>"$work/$which.err" &
        pids+=($!)
        core=1
    done
    wait "${pids[@]}"
    cpu_a=$(awk '{ print $(NF - 1) + $NF }' <(tail -1 "$work/a.time"))
    cpu_b=$(awk '{ print $(NF - 1) + $NF }' <(tail -1 "$work/b.time"))
    echo "round $round: A $cpu_a s, B $cpu_b s, B/A $(awk -v a="$cpu_a" -v b="$cpu_b" 'BEGIN { printf "%.3f", b / a }')"
done | tee "$work/rounds"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "medians over $rounds rounds: A $(awk '{ print $4 }' "$work/rounds" | median) s," \
    "B $(awk '{ print $7 }' "$work/rounds" | median) s," \
    "B/A $(awk '{ print $10 }' "$work/rounds" | median)" \
    "(rounds $(awk '{ print $10 }' "$work/rounds" | sort -g | head -1)–$(awk '{ print $10 }' "$work/rounds" | sort -g | tail -1))"
