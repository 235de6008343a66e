"""The README's tour runs verbatim (issue 15), like datasette's documentation tests.

The test reads the first ``sh`` block under "## A tour" in README.md and runs its
commands in order, each with bash, in a fresh folder that holds the repository's
``fixtures/`` as the README says to run it from the repository's folder. ``export``
lines carry over to the commands after them. Every command must succeed, except a
line ending in ``# fails: MESSAGE``, which must exit 1 with MESSAGE on stderr.
Afterwards, everything the tour left in the folder must be ignored by the
repository's ``.gitignore``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

_FAILS = re.compile(r"#\s*fails:\s*(?P<message>.+)$")


def tour_commands(readme: str) -> list[str]:
    """The tour's commands, continuation lines joined, comments and blank lines left out."""
    section = readme.split("\n## A tour\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands: list[str] = []
    pending = ""
    for line in block.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.strip() and not line.lstrip().startswith("#"):
            commands.append(line.strip())
    return commands


def test_the_tour_is_found_and_sets_up_what_it_uses() -> None:
    commands = tour_commands((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(commands) > 40
    users = {c.split()[3] for c in commands if c.startswith("smcase users add ")}
    acting = {m for c in commands for m in re.findall(r"--(?:user|granted-by) (\w+)", c)}
    assert acting <= users | {"anna"}, "the tour acts as users it never added"
    assert not any("<" in c or "..." in c or "DIR" in c for c in commands), "placeholders in the tour"


def test_the_readme_tour_runs_verbatim(tmp_path: Path, standards_dir: Path) -> None:
    standards = standards_dir
    commands = tour_commands((REPO / "README.md").read_text(encoding="utf-8"))
    folder = tmp_path / "repository"
    folder.mkdir()
    (folder / "fixtures").symlink_to(REPO / "fixtures")
    (folder / "tests").symlink_to(REPO / "tests")  # the capture section starts the tests' Mastodon-compatible server
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "standards").symlink_to(standards)  # ../shared/standards, as the tour says
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMCASE_") or k == "SMCASE_NOTIFY_LOG"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    for command in commands:
        if command.startswith("export "):
            env.update(part.split("=", 1) for part in shlex.split(command)[1:])
            continue
        done = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=300)
        expected = _FAILS.search(command)
        if expected:
            assert done.returncode == 1, f"{command}\nshould fail, exited {done.returncode}:\n{done.stdout}"
            assert expected["message"].strip() in done.stderr, f"{command}\n{done.stderr}"
        else:
            assert done.returncode == 0, f"{command}\nexited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, command
    _run_the_capture_section(folder, env)
    left = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if p.name not in ("fixtures", "tests"))
    assert {"torsby.db", "torsby-files/", "rennebu.db", "torsby-arkiv.zip", "rennebu-uttrekk.tar"} <= set(left)
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"],
                             input="\n".join(left) + "\n", capture_output=True, text=True)
    if ignored.returncode == 128:
        pytest.skip(f"git cannot say what is ignored here: {ignored.stderr.strip()}")
    assert sorted(ignored.stdout.split()) == left, "the tour leaves files git would show as untracked"


def section_script(readme: str, heading: str) -> str:
    """The first ``sh`` block under ``heading``, as one script."""
    section = readme.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def _run_the_capture_section(folder: Path, env: dict[str, str]) -> None:
    """'Running the capture service' after the tour, on its register, as one script (it starts the service in the
    background and stops it at the end): the handshake, a signed delivery accepted, a forged one refused, the
    comment in the inbox."""
    import contextlib
    import signal

    script = section_script((REPO / "README.md").read_text(encoding="utf-8"), "## Running the capture service")
    process = subprocess.Popen(["bash", "-e", "-c", script], cwd=folder, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the service too, if the script stopped before its kill
    assert process.returncode == 0, f"the capture section failed:\n{out}\n{err}"
    lines = out.splitlines()
    challenge = lines.index("4711")  # the handshake's challenge came back
    assert lines[challenge + 1:challenge + 3] == ["ok", "403"]  # signed: stored; forged: refused
    assert any("Gatlampan vid skolan" in line for line in lines)  # processed into the inbox
    assert 'smcase_deliveries_refused_total{platform="facebook",reason="bad_signature"} 1.0' in lines
    passes = [line for line in lines if "(kommunen): " in line]
    assert len(passes) == 2 and "5 received, 5 stored" in passes[0], lines  # statuses, replies, the mention
    assert "3 received, 3 stored, 0 duplicates" in passes[1], lines  # the edit, the deletion, the new reply
    assert "Traceback" not in err and "app-secret-from-meta" not in out + err
