"""Benchmark: how long the command line takes to start.

Each command runs as a user runs it (a fresh ``python -m smcase.cli`` process via the
installed ``smcase`` script), several times; the table shows the median and the best
wall time against a bare Python that imports click (the floor no click program can
beat), and the targets of issue 15: ``smcase --help`` within 0.3 s and ``case show``
on a small register within 0.5 s. Then ``python -X importtime`` names the modules
that cost the most for ``case show``, the tool to use when a figure grows.

Run:  python benchmarks/cli.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"smcase --help": 0.3, "smcase case show": 0.5}


def timed(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median and best wall time of ``argv`` over ``runs`` runs (after one warm-up for the disk cache)."""
    subprocess.run(argv, env=env, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def costliest_imports(argv: list[str], env: dict[str, str], top: int) -> list[tuple[int, str]]:
    """The ``top`` imports with the largest cumulative time (µs), from ``-X importtime``."""
    result = subprocess.run([sys.executable, "-X", "importtime", *argv], env=env, capture_output=True, text=True,
                            check=True)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        if not name.startswith("  ") or name.startswith("   "):  # top-level imports only: they add up
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    smcase = shutil.which("smcase")
    if smcase is None:
        sys.exit("smcase is not installed in this environment: pip install -e .")
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "SMCASE_DB": str(Path(folder) / "small.db"), "SMCASE_USER": "bench"}
        env.pop("SMCASE_FILES", None)
        subprocess.run([smcase, "init", "--name", "Benchmark kommun", "--country", "SE"], env=env,
                       capture_output=True, check=True)
        opened = subprocess.run([smcase, "case", "open", "--title", "Synpunkt"], env=env, capture_output=True,
                                text=True, check=True).stdout.split()[0:2]
        number = " ".join(opened)
        commands = {
            "python -c 'import click' (floor)": [sys.executable, "-c", "import click"],
            "smcase --help": [smcase, "--help"],
            "smcase --version": [smcase, "--version"],
            "smcase case show": [smcase, "case", "show", number],
            "smcase case list": [smcase, "case", "list"],
        }
        load = os.getloadavg()[0]
        print(f"start-up of the command line, {args.runs} runs each (load average {load:.2f}, {os.cpu_count()} CPUs)")
        print(f"{'command':38} {'median s':>9} {'best s':>8} {'target s':>9}  met")
        for label, argv in commands.items():
            median, best = timed(argv, env, args.runs)
            target = TARGETS.get(label)
            met = "" if target is None else ("yes" if median <= target else "NO")
            print(f"{label:38} {median:9.3f} {best:8.3f} {target if target else '':>9}  {met}")
        print("\ncostliest top-level imports of 'smcase case show' (cumulative ms, python -X importtime):")
        show = ["-c", "from smcase.cli import main; main()", "case", "show", number]
        for cumulative, name in costliest_imports(show, env, 8):
            print(f"  {cumulative / 1000:7.1f}  {name}")


if __name__ == "__main__":
    main()
