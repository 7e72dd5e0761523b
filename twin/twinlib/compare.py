"""The real system's figures beside meshsim's prediction, each with its tolerance.

The prediction is the mean of `predictions` meshsim runs of the scenario with seeds
seed, seed+1, ... : one 20-second run's own sampling noise (a few percent on the mean) would
otherwise be charged to the model. The real run is one sample; its noise is what the
tolerances allow for (docs/twin.md)."""

import csv
import json
import os
import shutil
import subprocess

# The agreement criteria.
MEAN_TOLERANCE = 0.10          # relative
P99_TOLERANCE = 0.20           # relative
FAILED_TOLERANCE = 0.20        # relative, when the prediction has at least FEW_FAILED
FEW_FAILED = 25
FEW_FAILED_SLACK = 5           # requests, below FEW_FAILED
MARK_DOWN_TOLERANCE_S = 1.0
SHARE_TOLERANCE_POINTS = 5.0


def find_meshsim(explicit=None):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for candidate in (explicit, os.environ.get("MESHSIM")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    built = [path for path in (os.path.join(root, "target", profile, "meshsim")
                               for profile in ("release", "fast")) if os.access(path, os.X_OK)]
    if built:
        return max(built, key=os.path.getmtime)  # the most recently built profile
    if shutil.which("meshsim"):
        return shutil.which("meshsim")
    raise FileNotFoundError("no meshsim binary: build it (cargo build --release) or pass "
                            "--meshsim PATH / set MESHSIM")


def predict(meshsim, scn, out_dir, runs):
    """Runs meshsim `runs` times; returns the averaged figures and their per-run spread."""
    per_run = []
    for k in range(runs):
        run_dir = os.path.join(out_dir, f"seed{scn.seed + k}")
        proc = subprocess.run([meshsim, "run", scn.path, "--out", run_dir, "--quiet",
                               "--seed", str(scn.seed + k)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ValueError(f"meshsim refused {scn.path} (exit {proc.returncode}):\n"
                             f"{proc.stderr.strip()}")
        per_run.append(read_prediction(scn, run_dir))
    averaged = {}
    for key in per_run[0]:
        values = [run[key] for run in per_run]
        if all(v is None for v in values):
            averaged[key] = None
        elif any(v is None for v in values):
            averaged[key] = ("some runs", sum(v is not None for v in values), len(values))
        else:
            averaged[key] = sum(values) / len(values)
    spread = {key: (min(run[key] for run in per_run), max(run[key] for run in per_run))
              for key in per_run[0] if all(run[key] is not None for run in per_run)}
    return averaged, spread


def read_prediction(scn, run_dir):
    with open(os.path.join(run_dir, "summary.json")) as handle:
        summary = json.load(handle)
    figures = {"mean_ms": summary["latency_ms"]["mean"], "p99_ms": summary["latency_ms"]["p99"],
               "failed": summary["requests"]["failed"]}
    counts = [0] * scn.replicas
    with open(os.path.join(run_dir, "replicas.csv")) as handle:
        for row in csv.DictReader(handle):
            second = float(row["time_s"])
            if row["service"] == scn.service and scn.warmup_ns / 1e9 <= second < scn.duration_ns / 1e9:
                counts[int(row["replica"])] += int(row["arrivals"])
    total = sum(counts) or 1
    for index, count in enumerate(counts):
        figures[f"share_{index}"] = 100.0 * count / total
    downs = {}
    with open(os.path.join(run_dir, "events.csv")) as handle:
        for row in csv.DictReader(handle):
            if row["kind"] == "health_check" and row["detail"] == "unhealthy":
                index = int(row["subject"].rsplit("#", 1)[1])
                downs.setdefault(index, []).append(float(row["time_s"]))
    for number, fault in enumerate(scn.faults):
        figures[f"mark_down_{number}"] = _first_after(downs.get(fault.replica, []), fault)
    return figures


def _first_after(times, fault):
    """Seconds from the fault's start to the first mark-down in it (None: none)."""
    start, end = fault.at_ns / 1e9, fault.end_ns / 1e9
    later = [t - start for t in times if start <= t <= end]
    return min(later) if later else None


def real_figures(scn, measured):
    figures = {"mean_ms": measured["latency_ms"]["mean"], "p99_ms": measured["latency_ms"]["p99"],
               "failed": measured["requests"]["failed"]}
    counts = [measured["per_backend_requests"][f"{scn.service}#{i}"] for i in range(scn.replicas)]
    total = sum(counts) or 1
    for index, count in enumerate(counts):
        figures[f"share_{index}"] = 100.0 * count / total
    for number, fault in enumerate(scn.faults):
        # Times from the actual injection (the fault log), not the plan.
        started = next((f["at_s"] for f in measured["faults"]
                        if f["replica"] == fault.replica and f["what"] == "start"
                        and abs(f["planned_s"] - fault.at_ns / 1e9) < 1e-6), fault.at_ns / 1e9)
        downs = [s["at_s"] for s in measured["server_states"]
                 if s["replica"] == fault.replica and s["state"] == "down"
                 and started <= s["at_s"] <= fault.end_ns / 1e9]
        figures[f"mark_down_{number}"] = min(downs) - started if downs else None
    return figures


def judge(scn, real, predicted):
    """Rows of (figure, real, predicted, allowed, ok)."""
    rows = []

    def relative(name, key, tolerance):
        r, p = real[key], predicted[key]
        ok = abs(r - p) <= tolerance * p
        rows.append((name, r, p, f"±{tolerance:.0%}", ok))

    relative("mean latency (ms)", "mean_ms", MEAN_TOLERANCE)
    relative("p99 latency (ms)", "p99_ms", P99_TOLERANCE)
    r, p = real["failed"], predicted["failed"]
    if p < FEW_FAILED:
        rows.append(("failed requests", r, p, f"±{FEW_FAILED_SLACK}",
                     abs(r - p) <= FEW_FAILED_SLACK))
    else:
        rows.append(("failed requests", r, p, f"±{FAILED_TOLERANCE:.0%}",
                     abs(r - p) <= FAILED_TOLERANCE * p))
    for number, fault in enumerate(scn.faults):
        key = f"mark_down_{number}"
        r, p = real[key], predicted[key]
        name = f"fault {number} ({fault.kind} {scn.service}#{fault.replica}): marked down after (s)"
        if r is None and p is None:
            continue
        if r is None or p is None or isinstance(p, tuple):
            rows.append((name, r, p, f"±{MARK_DOWN_TOLERANCE_S:g} s", False))
        else:
            rows.append((name, r, p, f"±{MARK_DOWN_TOLERANCE_S:g} s",
                         abs(r - p) <= MARK_DOWN_TOLERANCE_S))
    for index in range(scn.replicas):
        key = f"share_{index}"
        r, p = real[key], predicted[key]
        rows.append((f"share of {scn.service}#{index} (%)", r, p,
                     f"±{SHARE_TOLERANCE_POINTS:g} pt", abs(r - p) <= SHARE_TOLERANCE_POINTS))
    return rows


def _cell(value):
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return f"{value[1]} of {value[2]} runs"
    if isinstance(value, int):
        return str(value)
    return f"{value:.2f}"


def table(scn, rows, spread):
    head = ("figure", "real", "meshsim", "meshsim runs", "allowed", "")
    body = []
    key_of = {"mean latency (ms)": "mean_ms", "p99 latency (ms)": "p99_ms",
              "failed requests": "failed"}
    for name, r, p, allowed, ok in rows:
        key = key_of.get(name)
        if key is None and name.startswith("share of"):
            key = f"share_{name.split('#')[1].split(' ')[0]}"
        if key is None and name.startswith("fault "):
            key = f"mark_down_{name.split(' ')[1]}"
        low_high = spread.get(key)
        runs = f"{_cell(low_high[0])}..{_cell(low_high[1])}" if low_high else ""
        body.append((name, _cell(r), _cell(p), runs, allowed, "ok" if ok else "OUTSIDE"))
    widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    lines = [f"{scn.name}: real HAProxy vs meshsim"]
    for row in [head] + body:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)
