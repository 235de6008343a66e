"""Benchmark: ``smcase inbox list`` searches (NOR-4, TOR-9) on a register of 1,000,000 stored events.

Builds the register's events in batches of 10,000 (synthetic comments over a vocabulary of 5,000 words,
1,000 authors, 5 channels and a year of dates), each batch attested by one audit entry as the register
service attests a batch, so the full-text index is maintained the way ingest maintains it (SQLite: FTS5
triggers; PostgreSQL: the GIN index). Then times each search through ``inbox.list_events`` (the service
path the CLI takes), first 50 results, as the median of 5 runs after a first, cold one:

* a rare word (about 20 events); a common word (about 10,000 events); two words together;
* an author; a channel and a month; a word and an author together.

Run:  python benchmarks/inbox_search.py [--events 1000000] [--pg URL]
Target (issue 14): every search under 200 ms at 1,000,000 events.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

BATCH = 10_000
CHANNELS = [f"https://www.facebook.com/kommun{n}" for n in range(5)]


def words(seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzåäö"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(5000)]


def build(url: str, files: Path, count: int) -> dict[str, str]:
    """The register with ``count`` events; returns the search terms it planted."""
    from smcase import audit
    from smcase.db import make_engine
    from smcase.model import EventRow, table_of
    from smcase.policy import load_file
    from smcase.register import create_register
    from smcase.resources import default_policy

    engine = make_engine(url)
    create_register(engine, name="Benchmark kommun", policy=load_file(default_policy("SE")), user="bench")
    vocabulary = words()
    rng = random.Random(3)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    common, rare, author = vocabulary[0], "snöplogsmysterium", "Författare 17"
    events = table_of(EventRow)
    for first in range(0, count, BATCH):
        rows = []
        for n in range(first, min(first + BATCH, count)):
            text = " ".join(rng.choice(vocabulary[1:]) for _ in range(12))
            if n % 100 == 0:
                text += f" {common}"
            if n % 50_000 == 0:
                text += f" {rare}"
            key = f"facebook:c{n}:1"
            rows.append({
                "uuid": uuid.uuid4(), "key": key, "platform": "facebook", "external_id": f"c{n}", "revision": 1,
                "kind": "comment", "channel": CHANNELS[n % len(CHANNELS)], "author_id": f"u{n % 1000}",
                "author_name": f"Författare {n % 1000}", "text": text,
                "created_at": start + timedelta(seconds=n * 31), "url": None, "in_reply_to": None,
                "thread": f"c{n}", "direction": "in", "public": True, "raw": None, "raw_sha256": "0" * 64,
                "adapter": "jsonl", "source": "benchmark", "position": f"item {n}",
                "ingested_at": start, "ingested_by": "bench", "status": "trivial", "action": "trivial",
                "reason": "nothing to register", "findings": None})
        with engine.begin() as conn:
            ids = conn.execute(events.insert().returning(events.c.id), rows).scalars().all() \
                if engine.dialect.name == "postgresql" else _insert_sqlite(conn, events, rows)
            audit.append(conn, [audit.Change("inbox.ingest", "inbox", None, "benchmark", {"after": {
                "stored": len(rows)}})], actor="bench", at=datetime.now(UTC), touched={"events": ids})
    engine.dispose()
    return {"common": common, "rare": rare, "author": author, "pair": f"{common} {vocabulary[1]}"}


def _insert_sqlite(conn: object, events: object, rows: list[dict[str, object]]) -> list[int]:
    conn.execute(events.insert(), rows)  # type: ignore[attr-defined]
    last = conn.exec_driver_sql("SELECT max(id) FROM events").scalar()  # type: ignore[attr-defined]
    return list(range(last - len(rows) + 1, last + 1))


def measure(url: str, files: Path, terms: dict[str, str]) -> list[tuple[str, int, float, float]]:
    from smcase import inbox
    from smcase.db import make_engine
    from smcase.inbox import Search
    from smcase.register import RegisterService
    from smcase.store import FileStore

    engine = make_engine(url)
    service = RegisterService.open(engine, user="bench", files=FileStore(files))
    june = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
    searches = {
        "rare word": Search(text=terms["rare"]),
        "common word": Search(text=terms["common"]),
        "two words": Search(text=terms["pair"]),
        "author": Search(author=terms["author"]),
        "channel + month": Search(channel=CHANNELS[2], start=june[0], end=june[1]),
        "word + author": Search(text=terms["common"], author=terms["author"]),
    }
    results = []
    for name, search in searches.items():
        times = []
        found = 0
        for _ in range(6):
            begun = time.perf_counter()
            found = sum(1 for _ in inbox.list_events(service, search=search, limit=50))
            times.append(time.perf_counter() - begun)
        results.append((name, found, times[0] * 1000, statistics.median(times[1:]) * 1000))
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the register")
    parser.add_argument("--pg", metavar="URL", help="also on this (empty) PostgreSQL database")
    args = parser.parse_args()
    targets = [("SQLite", None)] + ([("PostgreSQL", args.pg)] if args.pg else [])
    for label, pg in targets:
        folder = Path(tempfile.mkdtemp(prefix="smcase-bench-search-"))
        try:
            url = pg or f"sqlite:///{folder / 'smcase.db'}"
            begun = time.perf_counter()
            terms = build(url, folder / "files", args.events)
            print(f"{label}: {args.events} events built in {time.perf_counter() - begun:.0f} s")
            print(f"  {'search':<18}{'found':>7}{'cold ms':>10}{'warm ms':>10}  target 200 ms")
            for name, found, cold, warm in measure(url, folder / "files", terms):
                print(f"  {name:<18}{found:>7}{cold:>10.1f}{warm:>10.1f}  {'OK' if max(cold, warm) < 200 else 'SLOW'}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
