"""Benchmark: ingest of synthetic JSON Lines events on SQLite, end to end.

The input mixes what a municipality's page sees: about 85 % trivial comments,
10 % complaints answered by the municipality (5 % comments + 5 % replies, each
pair becoming a case with two records), 3 % posts with a personnummer (a
confidential case each) and 2 % threats (evidence in a removal case each).

For each size, in a fresh process (so peak RSS is the run's own):
* smcase: ``Ingest.run`` through the plugins, classifiers, decision and the
  register service, with documents written to the file store;
* floor: the same lines read, parsed with ``json.loads`` and bulk-inserted as
  rows with plain ``sqlite3`` ``executemany`` in one transaction.

Run:  python benchmarks/ingest.py [--events 100000]
Target (issue 3): at least 10,000 events/s end to end, memory flat in the input size.
Target (issue 12): the identity-number detector (every field of every event, the scrubbing of derived
titles) takes under 10 % of ingest time; the ``detect s`` and ``share`` columns show it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from _children import wait_for

# Identity numbers as people type them: dashes of every kind, spaces, a no-break space, a Norwegian-style dot.
PNR = ["19121212-1212", "811228-9874", "19701063-2391", "20101010-1010", "950417 3213", "720808\u20133217",
       "811218\u00a03218", "19941101 0607", "12 12 12 1212"]


def generate(path: Path, count: int, seed: int = 7) -> dict[str, int]:
    """Write ``count`` events; returns how many of each sort."""
    rng = random.Random(seed)
    sorts = {"trivial": 0, "complaint": 0, "reply": 0, "confidential": 0, "prohibited": 0}
    with path.open("w", encoding="utf-8") as out:
        n = 0
        while n < count:
            roll = rng.random()
            base = {"platform": "facebook", "kind": "comment", "channel": "https://www.facebook.com/kommunen",
                    "created_at": f"2026-01-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00+01:00",
                    "in_reply_to": f"post-{n // 50}", "direction": "in",
                    "author": {"id": f"u{rng.randint(1, 20000)}", "name": f"Medborgare {rng.randint(1, 20000)}"}}
            if roll < 0.05 and n + 1 < count:
                out.write(json.dumps({**base, "id": f"c{n}", "text": f"Varför är gångbanan {n} inte plogad?"}) + "\n")
                out.write(json.dumps({**base, "id": f"r{n}", "in_reply_to": f"c{n}", "direction": "out",
                                      "author": {"id": "page", "name": "Kommunen"},
                                      "text": "Tack, vi skickar en plogbil."}) + "\n")
                sorts["complaint"] += 1
                sorts["reply"] += 1
                n += 2
                continue
            if roll < 0.08:
                text, sort = f"Min granne {rng.choice(PNR)} får ingen hjälp", "confidential"
            elif roll < 0.10:
                text, sort = "Jag vet var du bor, akta dig.", "prohibited"
            else:
                text, sort = rng.choice(["Bra jobbat!", "Fint väder idag", "Tack för infon", "Ser fram emot det",
                                         "Vilken fin bild", "Kul initiativ", "👍"]), "trivial"
            out.write(json.dumps({**base, "id": f"e{n}", "text": text}) + "\n")
            sorts[sort] += 1
            n += 1
    return sorts


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_smcase(path: str, folder: str, out: mp.Queue) -> None:
    import os

    os.environ["SMCASE_FILES"] = str(Path(folder) / "files")
    from smcase.db import files_dir_for, make_engine
    from smcase.events import ParseContext
    from smcase.ingest import Ingest
    from smcase.plugins import create_plugins
    from smcase.policy import load_file
    from smcase.register import RegisterService, create_register
    from smcase.resources import default_policy
    from smcase.store import FileStore

    url = f"sqlite:///{Path(folder) / 'smcase.db'}"
    engine = make_engine(url)
    create_register(engine, name="Benchmark kommun", policy=load_file(default_policy("SE")), user="bench")
    service = RegisterService.open(engine, user="bench", files=FileStore(files_dir_for(url)))
    plugins = create_plugins(env={})
    detecting = time_the_detector()
    start = time.perf_counter()
    with open(path, "rb") as stream:
        summary = Ingest(service, plugins).run(stream, "jsonl", ParseContext(source_name=path))
    elapsed = time.perf_counter() - start
    out.put((elapsed, {**summary.to_json(), "detector_seconds": detecting[0]}, peak_rss_mb()))


def time_the_detector() -> list[float]:
    """Wrap the identity-number detector so that the time spent in it is added up (the timer's own cost too)."""
    import smcase.builtin.identity_numbers as classifier
    import smcase.identity as identity

    spent = [0.0]
    original = identity.find

    def timed(text: str | None, context: bool = True) -> list[identity.Found]:
        begun = time.perf_counter()
        try:
            return original(text, context)
        finally:
            spent[0] += time.perf_counter() - begun

    identity.find = timed  # scrub(), contains() and the public guard look it up here
    classifier.find = timed  # the classifier plugin imported it by name
    return spent


def run_floor(path: str, folder: str, out: mp.Queue) -> None:
    conn = sqlite3.connect(str(Path(folder) / "floor.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE events (key TEXT UNIQUE, platform TEXT, external_id TEXT, kind TEXT, channel TEXT, "
                 "author_id TEXT, author_name TEXT, text TEXT, created_at TEXT, in_reply_to TEXT, direction TEXT, "
                 "raw TEXT)")
    start = time.perf_counter()

    def rows() -> object:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                e = json.loads(line)
                author = e.get("author") or {}
                yield (f"{e['platform']}:{e['id']}:1", e["platform"], e["id"], e["kind"], e.get("channel"),
                       author.get("id"), author.get("name"), e.get("text"), e["created_at"], e.get("in_reply_to"),
                       e.get("direction"), line)

    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows())
    conn.execute("COMMIT")
    out.put((time.perf_counter() - start, None, peak_rss_mb()))


def measure(target: object, path: Path, folder: Path) -> tuple[float, dict[str, int] | None, float]:
    folder.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(str(path), str(folder), out))
    proc.start()
    return wait_for(proc, out)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the largest run")
    args = parser.parse_args()
    sizes = sorted({max(1000, args.events // 5), args.events})
    print(f"{'events':>8}{'smcase s':>10}{'events/s':>10}{'peak MB':>9}{'floor s':>9}{'floor/s':>10}"
          f"{'ratio':>7}{'cases':>7}{'detect s':>10}{'share':>7}")
    results = []
    shares: list[float] = []
    for size in sizes:
        folder = Path(tempfile.mkdtemp(prefix="smcase-bench-ingest-"))
        try:
            path = folder / "events.jsonl"
            sorts = generate(path, size)
            seconds, summary, rss = measure(run_smcase, path, folder / "smcase")
            floor_seconds, _none, _floor_rss = measure(run_floor, path, folder / "floor")
            assert summary is not None
            expected_cases = sorts["complaint"] + sorts["confidential"] + sorts["prohibited"]
            results.append((size, seconds, rss))
            detect = summary["detector_seconds"]
            shares.append(detect / seconds)
            print(f"{size:>8}{seconds:>10.2f}{size / seconds:>10.0f}{rss:>9.0f}{floor_seconds:>9.2f}"
                  f"{size / floor_seconds:>10.0f}{floor_seconds / seconds:>7.2f}{summary['cases_opened']:>7}"
                  f"{detect:>10.2f}{detect / seconds:>7.1%}")
            assert summary["stored"] == size and summary["cases_opened"] == expected_cases, (summary, sorts)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    (small, _s, small_rss), (large, large_seconds, large_rss) = results[0], results[-1]
    print(f"\nmix of the largest run: {sorts}")
    print(f"peak RSS {small_rss:.0f} MB at {small} events, {large_rss:.0f} MB at {large} events "
          f"(growth {large_rss - small_rss:+.0f} MB for {large / small:.0f}x the input)")
    rate = large / large_seconds
    print(f"Target >= 10,000 events/s end to end: {'met' if rate >= 10_000 else 'NOT met'} ({rate:.0f}/s)")
    print(f"Target: identity-number detection under 10 % of ingest time: "
          f"{'met' if max(shares) < 0.10 else 'NOT met'} ({max(shares):.1%} at most)")


if __name__ == "__main__":
    main()
