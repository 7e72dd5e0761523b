#!/bin/sh
# Regenerates scenarios/systems/mesh-1000.toml: Istio isotope's 1000-service example topology
# (scenarios/topologies/isotope/1000-svc_5000-end.yaml) imported with the default options, then
# the governance story below appended. tests/e2e/import.rs checks that the committed file starts
# with exactly what the import prints. Run from anywhere: sh scenarios/systems/generate-mesh-1000.sh
set -eu
cd "$(dirname "$0")/../.."
out=scenarios/systems/mesh-1000.toml
cargo run --release --quiet -- import isotope scenarios/topologies/isotope/1000-svc_5000-end.yaml \
    --name mesh-1000 > "$out.tmp"
cat >> "$out.tmp" <<'STORY'

# --- The story (appended by scenarios/systems/generate-mesh-1000.sh) -------------------------
# A 1000-service mesh whose entry fans out to 100 services, nine of which fan out to 100 more:
# every request makes 999 calls. From 20 s to 40 s replica 0 of svc-0-5 (one of the first
# tier's services, two replicas) crashes. Clients keep calling it (static registry: no
# discovery update in 20 s), and a crashed replica refuses after a round trip; svc-0 needs
# every one of its 100 calls, so a single crashed replica out of 2,000 fails a large share of
# all requests (fan-out amplification). The [compare] axes show what contains it: retries on
# `refused` (which may land on the crashed replica again: p2c does not avoid the last host),
# and outlier detection, which ejects it after 5 consecutive refusals.
#   meshsim compare scenarios/systems/mesh-1000.toml      # 4 variants x 3 replications

[registry]
model = "static"

[[fault]]
at = "20s"
for = "20s"
kind = "crash"
target = "svc-0-5#0"

[slo]
availability = 0.999

[compare]
"policy.retries" = [{ max = 0 }, { max = 2, backoff = "1ms", on = ["refused"] }]
"policy.outlier_detection" = [
  { consecutive_errors = 1000000 },
  { consecutive_errors = 5, interval = "5s", base_ejection = "30s", max_ejection = 0.5 },
]
replications = 3
STORY
mv "$out.tmp" "$out"
