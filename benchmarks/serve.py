"""Benchmark: ``smcase serve`` under K concurrent webhook clients on loopback.

The service runs as it does in production (``smcase serve`` in its own
process, acting as a capture user, on Torsby's register with its Facebook page
configured for capture). K clients, each on a keep-alive connection, send
signed deliveries as fast as they are acknowledged: a realistic mix of new
comments, replies from the page, edits and removals. Printed, per database:

* acknowledged deliveries/s, and p50/p99 of the acknowledgement latency (every
  200 comes after the delivery's commit to the spool; commits are grouped);
* processing lag: how long after the last acknowledgement the register had
  processed everything, and the worker's rate over the whole run;
* the service's resident memory sampled every 10 % of the run (flat, or not);
* a check that every delivery's item is in the register exactly once.

Run:  python benchmarks/serve.py [--deliveries N] [--clients K]
PostgreSQL as well: set SMCASE_BENCH_PG_URL (or SMCASE_TEST_PG_URL); `bash .ci/postgres start` prints one.
Target (issue 16), on a 2-core machine: >= 500 acknowledged deliveries/s, p99 <= 100 ms, memory flat over
100,000 deliveries, 0 lost after kill -9 (that one is tests/test_serve.py's fault test).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGE = "104857600000001"
SECRET = "bench-app-secret"


def run(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "smcase", *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"smcase {' '.join(args)} failed: {done.stderr.strip()}")


def prepare(url: str, work: Path, env: dict[str, str]) -> None:
    """Torsby's register, its Facebook page active with the page id configured, and a capture user."""
    db = ("--db", url)
    run(*db, "--user", "anna", "init", "--name", "Torsby kommun", "--policy",
        str(REPO / "fixtures/policies/torsby.toml"), env=env)
    for user, role in (("ulla", "unit_manager"), ("gustav", "head_of_administration"), ("stina", "strategy"),
                       ("capture", "capture")):
        run(*db, "--user", "anna", "users", "add", user, "--role", role, env=env)
    run(*db, "--user", "anna", "channel", "propose", "--plan", str(REPO / "fixtures/plans/torsby-facebook.toml"),
        env=env)
    for user, step in (("ulla", "unit_manager"), ("gustav", "head_of_administration"),
                       ("stina", "strategy_consultation")):
        run(*db, "--user", user, "channel", "approve", "1", "--step", step, env=env)
    run(*db, "--user", "anna", "channel", "start", "1", env=env)
    run(*db, "--user", "anna", "channel", "change", "1", "--platform-id", PAGE, env=env)


def deliveries(n: int) -> list[bytes]:
    """A realistic mix: of every 10 deliveries, 6 new comments, 2 replies from the page, 1 edit, 1 removal."""
    out = []
    for i in range(n):
        base = 1767600000 + i
        kind = i % 10
        comment_id = f"1221_{i - (i % 10)}" if kind >= 8 else f"1221_{i}"
        value: dict[str, object] = {"item": "comment", "post_id": f"{PAGE}_1221", "comment_id": comment_id,
                                    "parent_id": f"{PAGE}_1221", "created_time": base,
                                    "from": {"id": f"73{i % 5000:08d}", "name": f"Invånare {i % 5000}"}}
        if kind < 6:
            value.update(verb="add", message=f"Synpunkt {i}: gatubelysningen på Storgatan är trasig igen.")
        elif kind < 8:
            value.update(verb="add", parent_id=f"1221_{i - 1}",
                         message=f"Tack för att du hörde av dig ({i}); vi tittar på det.")
            value["from"] = {"id": PAGE, "name": "Torsby kommun"}
        elif kind == 8:
            value.update(verb="edited", message=f"Synpunkt {i}: gatubelysningen är fortfarande trasig.")
        else:
            value.update(verb="remove")
        body = {"object": "page", "entry": [{"id": PAGE, "time": base, "changes": [{"field": "feed",
                                                                                      "value": value}]}]}
        out.append(json.dumps(body, ensure_ascii=False).encode())
    return out


async def client(port: int, queue: asyncio.Queue[bytes], latencies: list[float]) -> None:
    """One keep-alive connection sending signed deliveries until the queue is empty."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            request = (f"POST /webhooks/facebook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"a delivery was not acknowledged: {head.splitlines()[0].decode()}")
    finally:
        writer.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def get(port: int, path: str) -> str:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    body = conn.getresponse().read().decode()
    conn.close()
    return body


async def load(port: int, bodies: list[bytes], clients: int, pid: int) -> tuple[float, list[float], list[float]]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    memory: list[float] = []

    async def sample() -> None:
        step = max(1, len(bodies) // 10)
        mark = 0
        while len(latencies) < len(bodies):
            if len(latencies) >= mark:
                memory.append(rss_mb(pid))
                mark += step
            await asyncio.sleep(0.2)

    started = time.perf_counter()
    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(client(port, queue, latencies) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    sampler.cancel()
    memory.append(rss_mb(pid))
    return elapsed, latencies, memory


def measure(label: str, url: str, n: int, clients: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="smcase-bench-serve-"))
    try:
        env = {**os.environ, "SMCASE_FILES": str(work / "files"), "SMCASE_FACEBOOK_APP_SECRET": SECRET,
               "SMCASE_FACEBOOK_VERIFY_TOKEN": "bench"}
        prepare(url, work, env)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = (work / "serve.log").open("wb")
        server = subprocess.Popen([sys.executable, "-m", "smcase", "--db", url, "--user", "capture", "serve",
                                   "--port", str(port), "--spool", str(work / "spool.sqlite3"), "--no-poll",
                                   "--log-level", "warning"], env=env, stdout=log, stderr=log)
        try:
            for _ in range(300):
                try:
                    get(port, "/healthz")
                    break
                except OSError:
                    time.sleep(0.1)
            bodies = deliveries(n)
            elapsed, latencies, memory = asyncio.run(load(port, bodies, clients, server.pid))
            acked_at = time.perf_counter()
            while json.loads(get(port, "/healthz"))["pending_deliveries"]:
                time.sleep(0.1)
            lag = time.perf_counter() - acked_at
            ordered = sorted(latencies)
            p50 = statistics.median(ordered) * 1000
            p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
            print(f"{label}: {n:,} deliveries, {clients} clients")
            print(f"  acknowledged {n / elapsed:,.0f} deliveries/s (target >= 500); latency p50 {p50:.1f} ms, "
                  f"p99 {p99:.1f} ms (target <= 100)")
            print(f"  processed everything {lag:.1f} s after the last acknowledgement; worker "
                  f"{n / (elapsed + lag):,.0f} deliveries/s over the run")
            print("  service memory (MB) at each tenth: " + ", ".join(f"{m:.0f}" for m in memory))
        finally:
            server.terminate()
            server.wait(60)
            log.close()
        from sqlalchemy import create_engine, text

        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith(
            "postgresql://") else url)
        with engine.connect() as conn:
            keys = conn.execute(text("SELECT count(*), count(DISTINCT key) FROM events")).one()
        engine.dispose()
        print(f"  events in the register: {keys[0]:,} ({keys[1]:,} distinct; {n:,} deliveries, one change each)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smcase-bench-serve-db-"))
    try:
        measure("SQLite", f"sqlite:///{work / 'smcase.db'}", args.deliveries, args.clients)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pg = os.environ.get("SMCASE_BENCH_PG_URL") or os.environ.get("SMCASE_TEST_PG_URL")
    if pg:
        from sqlalchemy import create_engine, make_url

        admin_url = make_url(pg).set(drivername="postgresql+psycopg")
        name = f"smcase_bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            measure("PostgreSQL", admin_url.set(database=name).render_as_string(hide_password=False),
                    args.deliveries, args.clients)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    else:
        print("PostgreSQL: skipped (set SMCASE_BENCH_PG_URL or SMCASE_TEST_PG_URL)")


if __name__ == "__main__":
    main()
