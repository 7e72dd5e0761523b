"""Stands the real system up for a scenario, runs the load and the faults, tears it down, and
writes OUT/measured.json (summary.json's schema, plus per-backend requests, mark-down times and
the bench's own timing error) and OUT/timeseries.csv.

Every process is started in its own session (process group) and registered; they are killed on
normal exit, on any exception (try/finally), at interpreter exit (atexit) and on SIGINT/SIGTERM.
Only 127.0.0.1 is used, on ports the kernel handed out as free.
"""

import atexit
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_children = []


def _kill_all():
    while _children:
        proc = _children.pop()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # works on stopped (SIGSTOP) groups too
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def _on_signal(signum, _frame):
    _kill_all()
    sys.exit(128 + signum)


atexit.register(_kill_all)
signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGTERM, _on_signal)


def _realtime():
    """Puts the calling process under SCHED_FIFO priority 1 when allowed (and not disabled by
    TWIN_REALTIME=0). The bench's processes sleep almost all the time; real-time priority
    lets them run the moment a timer or socket wakes them instead of after whatever else the
    machine is compiling (the kernel still caps real-time tasks at 95% of the CPU)."""
    if os.environ.get("TWIN_REALTIME", "1") == "0":
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        return True
    except (PermissionError, AttributeError, OSError):
        return False


REALTIME = _realtime()  # the orchestrator too: it times the faults


def _spawn(argv, **kwargs):
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
    _children.append(proc)
    return proc


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_listening(port, proc, what, limit_s=10.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {limit_s} s")


def _ms(ns):
    return f"{max(1, round(ns / 1e6))}ms"


def haproxy_config(scn, front_port, backend_ports):
    """The HAProxy 2.6 configuration the scenario describes (docs/twin.md maps each key)."""
    lines = [
        "global",
        "    log stdout format raw local0",
        "    maxconn 4000",
        "    nbthread 1",
        "defaults",
        "    mode http",
        "    log global",
        # accept time (unix s . ms), final server, status, retries, Tw Tc Tr Ta, termination
        '    log-format "%Ts.%ms %s %ST %rc %Tw %Tc %Tr %Ta %tsc"',
        "    timeout connect 1s",
        "    timeout client 120s",
        f"    timeout server {_ms(scn.timeout_ns)}",
        f"    timeout queue {_ms(scn.timeout_ns)}",
        "    http-reuse never",
    ]
    if scn.retries:
        lines += [f"    retries {scn.retries}", "    option redispatch 1",
                  "    retry-on conn-failure"]
    else:
        lines += ["    retries 0"]
    if scn.health:
        lines += [f"    timeout check {_ms(scn.health.timeout_ns)}"]
    lines += [
        "frontend fe",
        f"    bind 127.0.0.1:{front_port}",
        "    default_backend be",
        "backend be",
        f"    balance {scn.balance}",
    ]
    if scn.health:
        lines += ["    option httpchk GET /health"]
    for index, port in enumerate(backend_ports):
        server = f"    server {scn.service}{index} 127.0.0.1:{port}"
        if scn.maxconn:
            server += f" maxconn {scn.maxconn}"
        if scn.health:
            server += (f" check inter {_ms(scn.health.interval_ns)} fall {scn.health.fall}"
                       f" rise {scn.health.rise}")
        lines.append(server)
    return "\n".join(lines) + "\n"


class _LogReader(threading.Thread):
    """Collects HAProxy's output lines with their CLOCK_MONOTONIC arrival time."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines = []

    def run(self):
        for raw in iter(self.stream.readline, b""):
            self.lines.append((time.monotonic_ns(), raw.decode("utf-8", "replace").rstrip()))


def _percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    rank = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[rank]


def latency_summary(values_ms):
    values = sorted(values_ms)
    if not values:
        return {k: 0.0 for k in ("mean", "p50", "p90", "p99", "p999", "max")}
    return {
        "mean": sum(values) / len(values),
        "p50": _percentile(values, 0.5),
        "p90": _percentile(values, 0.9),
        "p99": _percentile(values, 0.99),
        "p999": _percentile(values, 0.999),
        "max": values[-1],
    }


def outcome_of(status, backend):
    """meshsim's outcome for what the client saw."""
    if status == 200:
        return "succeeded"
    if status == 504:
        return "timeout"          # timeout server before response headers (sH)
    if status == 503:
        # the backend's own full queue, or HAProxy's "no server / connect failed / queue timeout"
        return "rejected" if backend >= 0 else "refused"
    return "error"                # 502 (server closed: crashed mid-request) and anything else


def run(scn, out_dir, python=sys.executable):
    os.makedirs(out_dir, exist_ok=True)
    if shutil.which("haproxy") is None:
        raise FileNotFoundError("haproxy is not installed (Debian: apt-get install haproxy)")
    ports = free_ports(scn.replicas + 1)
    front_port, backend_ports = ports[0], ports[1:]
    backends = [None] * scn.replicas

    def start_backend(index):
        slow = next((f.factor for f in scn.faults if f.kind == "slow" and f.replica == index), 1)
        argv = [python, os.path.join(HERE, "backend.py"), "--port", str(backend_ports[index]),
                "--index", str(index), "--workers", str(scn.workers),
                "--queue", str(-1 if scn.queue is None else scn.queue),
                "--dist", scn.service_time.text, "--seed", str(scn.seed * 1000 + index
                                                              + 100 * len(restarts)),
                "--slow-factor", str(slow), "--log", os.path.join(out_dir, f"backend{index}.log")]
        backends[index] = _spawn(argv)
        return backends[index]

    restarts = []
    try:
        for index in range(scn.replicas):
            log = os.path.join(out_dir, f"backend{index}.log")
            if os.path.exists(log):
                os.remove(log)
            start_backend(index)
        for index in range(scn.replicas):
            _wait_listening(backend_ports[index], backends[index], f"backend {index}")
        config = haproxy_config(scn, front_port, backend_ports)
        with open(os.path.join(out_dir, "haproxy.cfg"), "w") as handle:
            handle.write(config)
        haproxy = _spawn(["haproxy", "-db", "-f", os.path.join(out_dir, "haproxy.cfg")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        reader = _LogReader(haproxy.stdout)
        reader.start()
        try:
            _wait_listening(front_port, haproxy, "haproxy")
        except RuntimeError as err:
            time.sleep(0.1)
            said = "; ".join(line for _, line in reader.lines[-5:])
            raise RuntimeError(f"{err}: {said}") from err
        if scn.health:  # let every server pass its first checks: HAProxy starts them UP
            time.sleep(min(2.0, scn.health.interval_ns / 1e9 * 1.5))
        mono_to_unix = time.time_ns() - time.monotonic_ns()
        t0 = time.monotonic_ns() + 300_000_000
        loadgen_out = os.path.join(out_dir, "requests.txt")
        timeout_s = scn.timeout_ns / 1e9 * (scn.retries + 1) + 30
        loadgen = _spawn([python, os.path.join(HERE, "loadgen.py"), "--port", str(front_port),
                          "--rate", str(scn.rate), "--duration-ns", str(scn.duration_ns),
                          "--seed", str(scn.seed), "--t0-ns", str(t0), "--timeout-s",
                          str(timeout_s), "--out", loadgen_out])

        # Fault actions in time order: (offset, action, replica).
        actions = []
        for fault in scn.faults:
            actions.append((fault.at_ns, "start", fault))
            if fault.end_ns < scn.duration_ns:
                actions.append((fault.end_ns, "end", fault))
        actions.sort(key=lambda a: (a[0], a[1] == "start"))
        fault_log = []
        for offset, what, fault in actions:
            while (remaining := t0 + offset - time.monotonic_ns()) > 0:
                time.sleep(remaining / 1e9)
            proc = backends[fault.replica]
            if fault.kind == "crash" and what == "start":
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            elif fault.kind == "crash":
                restarts.append(fault.replica)
                start_backend(fault.replica)
            elif fault.kind == "hang":
                os.killpg(proc.pid, signal.SIGSTOP if what == "start" else signal.SIGCONT)
            else:
                os.kill(proc.pid, signal.SIGUSR1 if what == "start" else signal.SIGUSR2)
            fault_log.append({"kind": fault.kind, "what": what, "replica": fault.replica,
                              "planned_s": offset / 1e9,
                              "at_s": (time.monotonic_ns() - t0) / 1e9})
        # SIGCONT anything still stopped so the run can drain.
        loadgen.wait()
        if loadgen.returncode != 0:
            raise RuntimeError(f"load generator failed with status {loadgen.returncode}")
        time.sleep(0.2)  # the last log lines
    finally:
        _kill_all()
    reader.join(timeout=2)

    measured = summarise(scn, loadgen_out, reader.lines, t0, mono_to_unix, fault_log, out_dir)
    with open(os.path.join(out_dir, "haproxy.log"), "w") as handle:
        handle.writelines(f"{(t - t0) / 1e9:.6f} {line}\n" for t, line in reader.lines)
    with open(os.path.join(out_dir, "measured.json.tmp"), "w") as handle:
        json.dump(measured, handle, indent=2)
        handle.write("\n")
    os.replace(os.path.join(out_dir, "measured.json.tmp"), os.path.join(out_dir, "measured.json"))
    return measured


_SERVER_STATE = re.compile(r"Server be/(\S+) is (DOWN|UP)")


def summarise(scn, loadgen_out, log_lines, t0, mono_to_unix, fault_log, out_dir):
    warmup, duration = scn.warmup_ns, scn.duration_ns
    requests = []
    with open(loadgen_out) as handle:
        for line in handle:
            _, intended, sent, end, status, backend = (int(x) for x in line.split())
            requests.append((intended, sent, end, status, backend))
    measured = [r for r in requests if warmup <= r[0] < duration]
    outcomes = {"timeout": 0, "refused": 0, "error": 0, "rejected": 0, "circuit_open": 0}
    latencies = []
    lags = sorted((r[1] - r[0]) / 1e6 for r in requests)
    for intended, sent, end, status, backend in measured:
        outcome = outcome_of(status, backend)
        if outcome == "succeeded":
            latencies.append((end - intended) / 1e6)
        else:
            outcomes[outcome] += 1
    succeeded = len(latencies)

    # Per-backend tries as HAProxy routed them (final server of each request it accepted in
    # the measured interval), and server state changes.
    per_backend = {f"{scn.service}#{i}": 0 for i in range(scn.replicas)}
    state_changes = []
    statuses = {}
    for mono, line in log_lines:
        match = _SERVER_STATE.search(line)
        if match:
            index = int(match.group(1)[len(scn.service):])
            state_changes.append({"replica": index, "state": match.group(2).lower(),
                                  "at_s": (mono - t0) / 1e9})
            continue
        fields = line.split()
        if len(fields) != 9 or not re.fullmatch(r"\d+\.\d+", fields[0]):
            continue
        accept_unix_ns = int(fields[0].split(".")[0]) * 10**9 + int(fields[0].split(".")[1]) * 10**6
        offset = accept_unix_ns - mono_to_unix - t0
        statuses[fields[2]] = statuses.get(fields[2], 0) + 1
        server = fields[1]
        if warmup <= offset < duration and server.startswith(scn.service):
            key = f"{scn.service}#{server[len(scn.service):]}"
            if key in per_backend:
                per_backend[key] += 1

    # The backends' own timing error: sleep overshoot.
    overshoot = []
    for index in range(scn.replicas):
        path = os.path.join(out_dir, f"backend{index}.log")
        if os.path.exists(path):
            with open(path) as handle:
                for line in handle:
                    parts = line.split()
                    if len(parts) == 6 and parts[5] == "200":
                        overshoot.append(int(parts[4]) / 1e6)
    overshoot.sort()

    # Per-second series over the whole run (by intended arrival).
    seconds = math.ceil(duration / 1e9)
    series = [{"second": s, "offered": 0, "succeeded": 0, "failed": 0, "lat": []}
              for s in range(seconds)]
    for intended, sent, end, status, backend in requests:
        row = series[min(seconds - 1, intended // 10**9)]
        row["offered"] += 1
        if status == 200:
            row["succeeded"] += 1
            row["lat"].append((end - intended) / 1e6)
        else:
            row["failed"] += 1
    with open(os.path.join(out_dir, "timeseries.csv"), "w") as handle:
        handle.write("second,offered,succeeded,failed,p50_ms,p99_ms\n")
        for row in series:
            lat = sorted(row["lat"])
            handle.write(f"{row['second']},{row['offered']},{row['succeeded']},{row['failed']},"
                         f"{_percentile(lat, 0.5):.3f},{_percentile(lat, 0.99):.3f}\n")

    offered = len(measured)
    measured_s = (duration - warmup) / 1e9
    return {
        "scenario": scn.name,
        "seed": scn.seed,
        "realtime_priority": REALTIME,
        "requests": {"offered": offered, "succeeded": succeeded, "failed": offered - succeeded,
                     "outcomes": outcomes},
        "availability": succeeded / offered if offered else 0.0,
        "latency_ms": latency_summary(latencies),
        "per_backend_requests": per_backend,
        "duration_s": duration / 1e9,
        "warmup_s": warmup / 1e9,
        "offered_rate": offered / measured_s if measured_s else 0.0,
        "goodput": succeeded / measured_s if measured_s else 0.0,
        "faults": fault_log,
        "server_states": state_changes,
        "haproxy_statuses": statuses,
        "timing_error_ms": {
            "loadgen_send_lag": {"p50": _percentile(lags, 0.5), "p99": _percentile(lags, 0.99),
                                 "max": lags[-1] if lags else 0.0,
                                 "mean": sum(lags) / len(lags) if lags else 0.0},
            "backend_sleep_overshoot": {
                "p50": _percentile(overshoot, 0.5), "p99": _percentile(overshoot, 0.99),
                "max": overshoot[-1] if overshoot else 0.0,
                "mean": sum(overshoot) / len(overshoot) if overshoot else 0.0},
        },
    }
