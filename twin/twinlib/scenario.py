"""Reading a meshsim scenario file into what the twin can stand up, refusing everything else.

The twin supports one Poisson workload into one service of 1 to 8 replicas balanced by HAProxy,
and the faults crash, hang and slow on single replicas. Anything else is refused with the key
that is not supported (exit status 2), so a comparison never silently drops part of a scenario.
"""

import math
import re
import tomllib
from dataclasses import dataclass, field

# meshsim's balancer names and the HAProxy `balance` line each one models.
BALANCE = {
    "round_robin": "roundrobin",
    "least_conn": "leastconn",
    "random2": "random(2)",
}

_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ns|us|µs|ms|s|m|h)")


class Unsupported(Exception):
    """The scenario uses something the twin cannot stand up (or it is malformed)."""


def duration_ns(text, where):
    """A meshsim duration ("250ms", "1m30s") in integer nanoseconds."""
    if not isinstance(text, str):
        raise Unsupported(f"{where}: expected a duration string with a unit, like \"250ms\"")
    pos, total, parts = 0, 0, 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if not match:
            if text[pos:].strip() == "":
                break
            raise Unsupported(f"{where}: cannot read duration {text!r}")
        total += round(float(match.group(1)) * _UNITS_NS[match.group(2)])
        pos = match.end()
        parts += 1
    if parts == 0:
        raise Unsupported(f"{where}: cannot read duration {text!r}")
    return total


@dataclass
class Distribution:
    """A service-time distribution the backends can draw from (seconds)."""
    kind: str
    params: tuple
    text: str

    def mean_s(self):
        if self.kind == "const":
            return self.params[0]
        if self.kind == "exp":
            return self.params[0]
        if self.kind == "uniform":
            return (self.params[0] + self.params[1]) / 2
        if self.kind == "lognormal":
            mu, sigma = self.params
            return math.exp(mu + sigma * sigma / 2)
        raise AssertionError(self.kind)

    def draw(self, rng):
        """One draw in seconds from `rng` (a random.Random)."""
        if self.kind == "const":
            return self.params[0]
        if self.kind == "exp":
            return rng.expovariate(1.0 / self.params[0])
        if self.kind == "uniform":
            return rng.uniform(self.params[0], self.params[1])
        if self.kind == "lognormal":
            return rng.lognormvariate(self.params[0], self.params[1])
        raise AssertionError(self.kind)


# z of the 99th percentile of the standard normal, as meshsim's lognormal(median, p99) uses.
_Z99 = 2.326347874040841


def distribution(text, where):
    """Parses the distributions the backends implement: const, exp, uniform, lognormal."""
    if not isinstance(text, str):
        raise Unsupported(f"{where}: expected a distribution string like \"exp(20ms)\"")
    match = re.fullmatch(r"\s*([a-z]+)\((.*)\)\s*", text)
    if not match:
        raise Unsupported(f"{where}: cannot read distribution {text!r}")
    kind, args = match.group(1), [a.strip() for a in match.group(2).split(",") if a.strip()]
    named = {}
    positional = []
    for arg in args:
        if "=" in arg:
            key, value = arg.split("=", 1)
            named[key.strip()] = duration_ns(value.strip(), where) / 1e9
        else:
            positional.append(duration_ns(arg, where) / 1e9)
    if kind == "const" and len(positional) == 1 and not named:
        return Distribution(kind, (positional[0],), text)
    if kind == "exp":
        mean = positional[0] if positional else named.get("mean")
        if mean is not None and len(args) == 1:
            return Distribution(kind, (mean,), text)
    if kind == "uniform":
        low = named.get("low", positional[0] if positional else None)
        high = named.get("high", positional[1] if len(positional) > 1 else None)
        if low is not None and high is not None and len(args) == 2:
            return Distribution(kind, (low, high), text)
    if kind == "lognormal" and set(named) == {"median", "p99"} and not positional:
        mu = math.log(named["median"])
        sigma = math.log(named["p99"] / named["median"]) / _Z99
        return Distribution(kind, (mu, sigma), text)
    raise Unsupported(f"{where}: the twin's backends draw const, exp, uniform and "
                      f"lognormal(median=, p99=) only, not {text!r}")


@dataclass
class Fault:
    kind: str          # crash | hang | slow
    replica: int
    at_ns: int
    end_ns: int        # duration_ns when the fault has no `for`
    factor: float = 1.0


@dataclass
class HealthCheck:
    interval_ns: int
    timeout_ns: int
    fall: int
    rise: int


@dataclass
class TwinScenario:
    """What the twin stands up. Times in nanoseconds from the start of the load."""
    path: str
    name: str
    seed: int
    duration_ns: int
    warmup_ns: int
    service: str
    replicas: int
    workers: int
    queue: int | None
    service_time: Distribution
    rate: float
    balancer: str
    timeout_ns: int
    retries: int
    health: HealthCheck | None
    maxconn: int | None
    faults: list = field(default_factory=list)

    @property
    def balance(self):
        return BALANCE[self.balancer]


def _only(table, allowed, where, problems):
    for key in table:
        if key not in allowed:
            problems.append(f"{where}.{key}: not supported by the twin")


def load(path):
    """Reads `path`; raises Unsupported listing every unsupported or malformed part."""
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except OSError as err:
        raise Unsupported(f"{path}: cannot read: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise Unsupported(f"{path}: not valid TOML: {err}") from err
    problems = []

    def fail(msg):
        problems.append(msg)

    for table in raw:
        if table not in ("scenario", "network", "registry", "policy", "service", "workload",
                         "fault"):
            fail(f"[{table}]: not supported by the twin")

    scen = raw.get("scenario", {})
    _only(scen, {"name", "seed", "duration", "warmup", "window"}, "scenario", problems)
    name = scen.get("name", "twin")
    seed = int(scen.get("seed", 1))
    duration = _dur(scen.get("duration"), "scenario.duration", problems, required=True)
    warmup = _dur(scen.get("warmup", "0s"), "scenario.warmup", problems)

    network = raw.get("network", {})
    _only(network, {"latency"}, "network", problems)
    # The loopback's latency is whatever it is; the scenario's `latency` is meshsim's account
    # of the proxy and loopback hop (twin/README.md says how it was measured).
    if "latency" in network and not str(network["latency"]).startswith("const("):
        fail("network.latency: the twin supports a constant latency only")

    registry = raw.get("registry", {})
    _only(registry, {"model"}, "registry", problems)
    if registry.get("model") != "static":
        fail("registry.model: the twin needs \"static\" (HAProxy's server list is its "
             "configuration; only health checks take servers out)")

    policy = raw.get("policy", {})
    _only(policy, {"balancer", "timeout", "retries", "health_check", "max_connections"},
          "policy", problems)
    balancer = policy.get("balancer", "round_robin")
    if balancer not in BALANCE:
        fail(f"policy.balancer: {balancer!r} has no HAProxy counterpart in the twin; "
             f"supported: {', '.join(BALANCE)}")
    timeout = _dur(policy.get("timeout", "15s"), "policy.timeout", problems)

    retries = 0
    if "retries" in policy:
        spec = policy["retries"]
        _only(spec, {"max", "on", "backoff", "max_backoff", "jitter"}, "policy.retries",
              problems)
        retries = int(spec.get("max", 1))
        if spec.get("on") != ["connect_failure"]:
            fail("policy.retries.on: the twin needs [\"connect_failure\"] (HAProxy's retry-on "
                 "conn-failure: a request the server held when it died is a 502, not retried)")
        if spec.get("jitter") != "none":
            fail("policy.retries.jitter: the twin needs \"none\" (HAProxy's turn-around "
                 "delay is fixed)")
        # HAProxy waits min(timeout connect, 1 s) before retrying, except when it redispatches
        # a retry under roundrobin/random with more than one server (src/backend.c,
        # back_handle_st_cer). The twin sets `timeout connect 1s`.
        expected = 0 if balancer in ("round_robin", "random2") else 1_000_000_000
        for key in ("backoff", "max_backoff"):
            got = _dur(spec.get(key), f"policy.retries.{key}", problems, required=True)
            if got is not None and got != expected:
                fail(f"policy.retries.{key}: HAProxy's turn-around delay under {balancer} with "
                     f"option redispatch is {expected // 1_000_000}ms; the scenario says "
                     f"{spec.get(key)}")

    health = None
    if "health_check" in policy:
        spec = policy["health_check"]
        _only(spec, {"interval", "timeout", "unhealthy", "healthy"}, "policy.health_check",
              problems)
        interval = _dur(spec.get("interval"), "policy.health_check.interval", problems, True)
        check_timeout = _dur(spec.get("timeout"), "policy.health_check.timeout", problems, True)
        health = HealthCheck(interval or 0, check_timeout or 0, int(spec.get("unhealthy", 3)),
                             int(spec.get("healthy", 2)))

    services = raw.get("service", [])
    if len(services) != 1:
        fail(f"service: the twin supports exactly one service, found {len(services)}")
        services = services[:1] or [{}]
    svc = services[0]
    _only(svc, {"name", "replicas", "workers", "queue", "service_time", "concurrency"},
          "service", problems)
    if svc.get("concurrency", "threads") != "threads":
        fail("service.concurrency: the twin's backends hold a worker per request (\"threads\")")
    replicas = int(svc.get("replicas", 1))
    if not 1 <= replicas <= 8:
        fail(f"service.replicas: the twin supports 1 to 8 replicas, found {replicas}")
    workers = int(svc.get("workers", 1))
    queue = svc.get("queue")
    try:
        service_time = distribution(svc.get("service_time"), "service.service_time")
    except Unsupported as err:
        fail(str(err))
        service_time = None

    maxconn = None
    if "max_connections" in policy:
        total = int(policy["max_connections"])
        if balancer != "least_conn":
            fail("policy.max_connections: modelled as HAProxy's per-server maxconn only under "
                 "least_conn (roundrobin and random skip full servers, which meshsim's "
                 "connection pool does not)")
        elif total % replicas:
            fail(f"policy.max_connections: must be a multiple of the {replicas} replicas "
                 f"(HAProxy's maxconn is per server), found {total}")
        else:
            maxconn = total // replicas

    workloads = raw.get("workload", [])
    if len(workloads) != 1:
        fail(f"workload: the twin supports exactly one workload, found {len(workloads)}")
        workloads = workloads[:1] or [{}]
    load_spec = workloads[0]
    _only(load_spec, {"name", "target", "arrival", "rate"}, "workload", problems)
    if load_spec.get("arrival", "poisson") != "poisson":
        fail("workload.arrival: the twin's load generator is open-loop Poisson only")
    if load_spec.get("target", svc.get("name")) != svc.get("name"):
        fail("workload.target: must be the one service")
    rate = float(load_spec.get("rate", 0))
    if rate <= 0:
        fail("workload.rate: required, greater than 0")

    faults = []
    for i, spec in enumerate(raw.get("fault", [])):
        _only(spec, {"at", "for", "kind", "target", "factor", "name"}, f"fault.{i}", problems)
        kind = spec.get("kind")
        if kind not in ("crash", "hang", "slow"):
            fail(f"fault.{i}.kind: the twin injects crash, hang and slow, not {kind!r}")
            continue
        match = re.fullmatch(rf"{re.escape(str(svc.get('name')))}#(\d+)", str(spec.get("target")))
        if not match or int(match.group(1)) >= replicas:
            fail(f"fault.{i}.target: the twin needs one replica \"{svc.get('name')}#i\", "
                 f"found {spec.get('target')!r}")
            continue
        at = _dur(spec.get("at"), f"fault.{i}.at", problems, True) or 0
        length = _dur(spec.get("for"), f"fault.{i}.for", problems) if "for" in spec else None
        end = duration if length is None else at + length
        faults.append(Fault(kind, int(match.group(1)), at, end, float(spec.get("factor", 1.0))))
    for a in faults:
        for b in faults:
            if a is not b and a.replica == b.replica and a.at_ns < b.end_ns and b.at_ns < a.end_ns:
                fail(f"fault: overlapping faults on replica {a.replica} are not supported")
                break

    if problems:
        raise Unsupported("\n".join(f"{path}: {p}" for p in dict.fromkeys(problems)))
    return TwinScenario(path, name, seed, duration, warmup, svc["name"], replicas, workers,
                        None if queue is None else int(queue), service_time, rate, balancer,
                        timeout, retries, health, maxconn, faults)


def _dur(value, where, problems, required=False):
    if value is None:
        if required:
            problems.append(f"{where}: required")
        return None
    try:
        return duration_ns(value, where)
    except Unsupported as err:
        problems.append(str(err))
        return None
