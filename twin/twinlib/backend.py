"""One backend replica: HTTP/1.1 on 127.0.0.1, `workers` requests served at once (a worker is
held for the request's whole service time, meshsim's `concurrency = "threads"`), the rest wait
in a FIFO queue of at most `queue` (full: 503 at once, meshsim's `rejected`).

Service time is slept, not burnt: the machine has 2 cores shared by many processes, and a
sleeping worker is what a backend waiting on I/O looks like. Each sleep runs to an absolute
deadline; its overshoot (the timer's and scheduler's error) is logged per request.

GET /health answers at once without a worker (HAProxy's `option httpchk`; meshsim's checks do
not queue behind requests either). SIGUSR1 multiplies the service time of requests starting
from then by --slow-factor (meshsim's `slow` fault); SIGUSR2 ends it.

Log: one line per request written straight to the file (survives SIGKILL):
  arrival_ns start_ns end_ns slept_target_ns overshoot_ns status
"""

import argparse
import collections
import os
import random
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from twinlib.scenario import distribution  # noqa: E402


class Workers:
    """A worker pool with a strict FIFO queue (threading.Semaphore wakes in no set order)."""

    def __init__(self, workers, queue_limit):
        self.lock = threading.Lock()
        self.free = workers
        self.waiting = collections.deque()
        self.queue_limit = queue_limit

    def acquire(self):
        """True once a worker is held; False when the queue is full (reject)."""
        with self.lock:
            if self.free > 0 and not self.waiting:
                self.free -= 1
                return True
            if self.queue_limit is not None and len(self.waiting) >= self.queue_limit:
                return False
            ticket = threading.Event()
            self.waiting.append(ticket)
        ticket.wait()
        return True

    def release(self):
        with self.lock:
            if self.waiting:
                self.waiting.popleft().set()  # the worker passes straight to the oldest
            else:
                self.free += 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--queue", type=int, default=-1)
    parser.add_argument("--dist", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--slow-factor", type=float, default=1.0)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()

    dist = distribution(args.dist, "--dist")
    rng = random.Random(args.seed)
    rng_lock = threading.Lock()
    workers = Workers(args.workers, None if args.queue < 0 else args.queue)
    factor = [1.0]
    log_fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    signal.signal(signal.SIGUSR1, lambda *_: factor.__setitem__(0, args.slow_factor))
    signal.signal(signal.SIGUSR2, lambda *_: factor.__setitem__(0, 1.0))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    header = f"X-Backend: {args.index}\r\nConnection: close\r\n".encode()

    def respond(conn, status, reason):
        body = b"ok\n" if status == 200 else reason.encode() + b"\n"
        conn.sendall(f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n".encode()
                     + header + b"\r\n" + body)

    def serve(conn):
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            arrival = time.monotonic_ns()
            if data.startswith(b"GET /health"):
                respond(conn, 200, "OK")
                return
            if not workers.acquire():
                respond(conn, 503, "Queue Full")
                os.write(log_fd, f"{arrival} -1 -1 0 0 503\n".encode())
                return
            try:
                start = time.monotonic_ns()
                with rng_lock:
                    service = dist.draw(rng)
                target = start + round(service * factor[0] * 1e9)
                while True:
                    remaining = target - time.monotonic_ns()
                    if remaining <= 0:
                        break
                    time.sleep(remaining / 1e9)
                end = time.monotonic_ns()
                respond(conn, 200, "OK")
            finally:
                workers.release()
            os.write(log_fd, f"{arrival} {start} {end} {target - start} {end - target} 200\n"
                     .encode())
        except OSError:
            pass  # the proxy gave up (timeout server) and closed: nothing to answer
        finally:
            conn.close()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(4096)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
