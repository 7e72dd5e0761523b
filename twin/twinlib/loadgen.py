"""Open-loop Poisson load generator.

Arrival times are drawn up front (seeded) and each request is sent at its own time, whatever
the others are doing: a sender thread sleeps to each arrival and hands it to an idle connection
thread (a new one is started when none is idle), so a slow response never delays the next
send. Latency is measured from the *intended* send time, so the generator's own lateness counts
against the system, never hides it (no coordinated omission); the lateness itself (actual
connect start minus intended time) is recorded per request and summarised as the generator's
timing error.

Output (--out), one line per request:
  id intended_ns sent_ns end_ns status backend
status is the HTTP status, or 0 when the connection failed; backend the X-Backend header or -1.
"""

import argparse
import os
import queue
import random
import socket
import threading
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: twin\r\nConnection: close\r\n\r\n"


def arrivals(rate, duration_ns, seed):
    """Poisson arrival offsets (ns) in [0, duration_ns)."""
    rng = random.Random(seed)
    t, out = 0.0, []
    while True:
        t += rng.expovariate(rate)
        offset = round(t * 1e9)
        if offset >= duration_ns:
            return out
        out.append(offset)


def one_request(port, timeout_s):
    """Sends one request; returns (sent_ns, end_ns, status, backend)."""
    sent = time.monotonic_ns()
    status, backend = 0, -1
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            sock.sendall(REQUEST)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        if head and head[0].startswith("HTTP/"):
            status = int(head[0].split()[1])
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "x-backend":
                    backend = int(value.strip())
    except (OSError, ValueError, IndexError):
        pass
    return sent, time.monotonic_ns(), status, backend


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration-ns", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--t0-ns", type=int, required=True, help="CLOCK_MONOTONIC start")
    parser.add_argument("--timeout-s", type=float, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    offsets = arrivals(args.rate, args.duration_ns, args.seed)
    results = [None] * len(offsets)
    work = queue.SimpleQueue()
    idle = [0]
    idle_lock = threading.Lock()
    done = threading.Semaphore(0)

    def connection_thread():
        while True:
            item = work.get()
            if item is None:
                return
            index, intended = item
            sent, end, status, backend = one_request(args.port, args.timeout_s)
            results[index] = (intended, sent, end, status, backend)
            done.release()
            with idle_lock:
                idle[0] += 1

    threads = []
    for index, offset in enumerate(offsets):
        intended = args.t0_ns + offset
        while True:
            remaining = intended - time.monotonic_ns()
            if remaining <= 0:
                break
            time.sleep(remaining / 1e9)
        with idle_lock:
            spawn = idle[0] == 0
            if not spawn:
                idle[0] -= 1
        if spawn:
            thread = threading.Thread(target=connection_thread, daemon=True)
            thread.start()
            threads.append(thread)
        work.put((index, intended))
    for _ in offsets:
        done.acquire()
    for _ in threads:
        work.put(None)

    with open(args.out + ".tmp", "w") as out:
        for index, (intended, sent, end, status, backend) in enumerate(results):
            out.write(f"{index} {intended - args.t0_ns} {sent - args.t0_ns} {end - args.t0_ns} "
                      f"{status} {backend}\n")
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
