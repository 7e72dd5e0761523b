#!/usr/bin/env bash
# Speed ratio to the SimPy peer model, measured in one sitting on this machine:
# the same tier chain (3 tiers x 4 replicas x 8 workers, exp(1 ms), 0.5 ms hops, round robin,
# 70% load) in benches/peers/simpy_tiers.py and in scenarios/tiers.toml.
#
# Runs the two back to back, interleaved, ROUNDS times, each under /usr/bin/time, and states the
# medians of both processes' rates two ways:
#   CPU:  simulated requests per CPU second (user + sys of the whole process: start-up, parsing,
#         and for meshsim also the report and plots). Robust on a shared machine.
#   wall: simulated requests per wall-clock second of the simulation loop alone, as each tool
#         prints it (SimPy: env.run(); meshsim: the `engine` line). Noisy when others compute.
# Usage: benches/simpy_ratio.sh [ROUNDS] [SIMPY_REQUESTS]   (default 5 and 200000)
# Needs python3 with simpy (installed with pip if missing) and GNU time at /usr/bin/time.
# MESHSIM=path/to/binary measures another build (default: cargo build --release, then that one).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
requests=${2:-200000}
peer=${SIMPY_TIERS:-benches/peers/simpy_tiers.py}
python3 -c "import simpy" 2>/dev/null || pip install --quiet simpy
if [ -z "${MESHSIM:-}" ]; then
  cargo build --release --quiet
  MESHSIM=./target/release/meshsim
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for round in $(seq "$rounds"); do
  /usr/bin/time -f "%U %S %e" -o "$work/simpy.time" python3 "$peer" "$requests" >"$work/simpy.out"
  # warm-up 0: every simulated request (60 s x 22,400/s) is counted as offered.
  /usr/bin/time -f "%U %S %e" -o "$work/meshsim.time" "$MESHSIM" run scenarios/tiers.toml \
    --set scenario.warmup=0s --out "$work/report" >"$work/meshsim.out"
  python3 - "$work" "$round" <<'PY'
import json, re, sys
work, round_ = sys.argv[1], sys.argv[2]
simpy_out = open(f"{work}/simpy.out").read()
simpy_requests = int(re.search(r"requests=(\d+)", simpy_out).group(1))
simpy_wall_rate = float(re.search(r"requests_per_wall_s=(\d+)", simpy_out).group(1))
user, sys_, _ = map(float, open(f"{work}/simpy.time").read().split()[-3:])
simpy_cpu_rate = simpy_requests / (user + sys_)
mesh_out = open(f"{work}/meshsim.out").read()
mesh_wall_rate = float(re.search(r"([0-9.]+) measured requests/s", mesh_out).group(1))
offered = json.load(open(f"{work}/report/summary.json"))
offered = offered["requests"]["offered"]
user, sys_, _ = map(float, open(f"{work}/meshsim.time").read().split()[-3:])
mesh_cpu_rate = offered / (user + sys_)
with open(f"{work}/rounds", "a") as rounds:
    rounds.write(f"{simpy_cpu_rate} {mesh_cpu_rate} {simpy_wall_rate} {mesh_wall_rate}\n")
print(f"round {round_}: SimPy {simpy_cpu_rate:,.0f} req/CPU-s {simpy_wall_rate:,.0f} req/wall-s; "
      f"meshsim {mesh_cpu_rate:,.0f} req/CPU-s {mesh_wall_rate:,.0f} req/wall-s")
PY
done
python3 - "$work/rounds" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
simpy_cpu, mesh_cpu, simpy_wall, mesh_wall = (statistics.median(c) for c in zip(*rows))
cpu_ratios = [m / s for s, m, _, _ in rows]
wall_ratios = [m / s for _, _, s, m in rows]
print(f"medians over {len(rows)} interleaved rounds:")
print(f"  CPU time:  SimPy {simpy_cpu:,.0f} req/s, meshsim {mesh_cpu:,.0f} req/s (report and plots included): "
      f"ratio {mesh_cpu / simpy_cpu:.1f}x (per round {min(cpu_ratios):.1f}-{max(cpu_ratios):.1f}x)")
print(f"  wall time: SimPy {simpy_wall:,.0f} req/s, meshsim {mesh_wall:,.0f} req/s (simulation loops only): "
      f"ratio {mesh_wall / simpy_wall:.1f}x (per round {min(wall_ratios):.1f}-{max(wall_ratios):.1f}x)")
PY
