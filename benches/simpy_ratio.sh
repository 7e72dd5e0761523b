#!/usr/bin/env bash
# Speed ratio to the SimPy peer model, measured in one sitting on this machine:
# the same tier chain (3 tiers x 4 replicas x 8 workers, exp(1 ms), 0.5 ms hops, round robin,
# 70% load) in ../shared/peers/simpy_tiers.py and in scenarios/tiers.toml.
# Usage: benches/simpy_ratio.sh [REQUESTS]   (default 200000; needs python3 with simpy)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
peer=${SIMPY_TIERS:-../shared/peers/simpy_tiers.py}
python3 -c "import simpy" 2>/dev/null || pip install --quiet simpy
cargo build --release --quiet
# The scenario offers 22,400 requests/s: simulate long enough for the same number of requests.
seconds=$(python3 -c "print(max(1, round($requests / 22400)))")
simpy_line=$(python3 "$peer" "$requests")
echo "simpy:   $simpy_line"
meshsim_line=$(./target/release/meshsim run scenarios/tiers.toml --set "scenario.duration=${seconds}s" \
  --set scenario.warmup=0s --out "$(mktemp -d)" | grep "engine ")
echo "meshsim: $meshsim_line"
python3 - "$simpy_line" "$meshsim_line" <<'PY'
import re, sys
simpy_rate = float(re.search(r"requests_per_wall_s=(\d+)", sys.argv[1]).group(1))
rate = float(re.search(r"([0-9.]+) measured requests/s", sys.argv[2]).group(1))
print(f"ratio:   {rate / simpy_rate:.1f}x the SimPy model (simulation only; reports and plots excluded)")
PY
