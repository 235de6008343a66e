"""The exporters' shared building blocks: unit prototypes and plain rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import create_engine, text

from smcase.export.common import Prototype, plain_rows

from .conftest import Cli

NS = "urn:test"


def names_and_texts(element: etree._Element) -> list[tuple[str, str | None]]:
    return [(etree.QName(e).localname, e.text) for e in element.iter()]


def test_a_prototype_fills_its_leaves_in_order_and_leaves_out_empty_ones() -> None:
    shape = Prototype(NS, ("post", ("id", ("party", ("role", "name")), "title", "note")))
    post, leaves = shape.fill(("7", "Avsender", "Kari", "  ", None))
    assert names_and_texts(post) == [("post", None), ("id", "7"), ("party", None), ("role", "Avsender"),
                                     ("name", "Kari")]
    assert [etree.QName(leaf).localname for leaf in leaves] == ["id", "role", "name", "title", "note"]
    assert shape.index("title") == 3


def test_each_fill_is_a_copy_of_its_own() -> None:
    shape = Prototype(NS, ("post", ("id",)))
    first, _ = shape.fill(("1",))
    second, _ = shape.fill(("2",))
    assert (first[0].text, second[0].text) == ("1", "2")
    assert shape.root[0].text is None


def test_parts_go_in_before_a_required_leaf() -> None:
    shape = Prototype(NS, ("post", ("id", "optional", "number", "last")))
    post, leaves = shape.fill(("1", None, "2", "3"))
    before = leaves[shape.index("number")]
    for label in ("a", "b"):
        extra = etree.Element(f"{{{NS}}}extra")
        extra.text = label
        before.addprevious(extra)
    assert [(etree.QName(e).localname, e.text) for e in post] == [("id", "1"), ("extra", "a"), ("extra", "b"),
                                                                   ("number", "2"), ("last", "3")]


def test_a_wrong_number_of_values_is_an_error_not_a_shifted_unit() -> None:
    shape = Prototype(NS, ("post", ("id", "title")))
    with pytest.raises(ValueError):
        shape.fill(("1",))


def test_text_that_xml_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError):
        Prototype(NS, ("post", ("id",))).fill(("bell\x07",))


def test_plain_rows_keep_the_column_names() -> None:
    with create_engine("sqlite://").connect() as conn:
        result = conn.execute(text("SELECT 1 AS id, 'Kari' AS name"))
        plain = plain_rows(result)
        row = plain(next(iter(result)))
    assert (row.id, row.name) == (1, "Kari") and tuple(row) == (1, "Kari")


SLOW_EXPORT = """
import sys, time
from smcase.export import noark5
written = noark5.NoarkExport._write_all
def slow(self, work, start, end):
    written(self, work, start, end)
    print("written", flush=True)
    time.sleep(120)
noark5.NoarkExport._write_all = slow
from smcase.cli import main
sys.argv = ["smcase", *sys.argv[1:]]
main()
"""


def _slow_export(db_url: str, files: Path, out: Path, standards: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "SMCASE_FILES": str(files)}
    env.pop("SMCASE_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_EXPORT, "--db", db_url, "--user", "anna", "export", "noark5",
                             str(out), "--standards", str(standards)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
    return proc


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_export_leaves_no_working_folder(tmp_path: Path, standards_dir: Path, stop: int) -> None:
    db_url, files = _closed_norwegian_register(tmp_path)
    out = tmp_path / "exports" / "uttrekk"
    out.parent.mkdir()
    proc = _slow_export(db_url, files, out, standards_dir)
    assert [p.stat().st_mode & 0o777 for p in out.parent.glob(".uttrekk.partial-*") if p.is_dir()] == [0o700]
    proc.send_signal(stop)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert list(out.parent.iterdir()) == []  # nothing of the register's content is left behind


def test_what_a_killed_export_left_is_removed_by_the_next_one(tmp_path: Path, standards_dir: Path) -> None:
    db_url, files = _closed_norwegian_register(tmp_path)
    out = tmp_path / "exports" / "uttrekk"
    out.parent.mkdir()
    proc = _slow_export(db_url, files, out, standards_dir)
    other = _slow_export(db_url, files, tmp_path / "exports" / "second", standards_dir)  # alive: must be kept
    proc.kill()
    proc.communicate(timeout=60)
    left = [p for p in out.parent.glob(".uttrekk.partial-*") if p.is_dir()]
    assert len(left) == 1  # kill -9 runs no cleanup
    cli = Cli(db_url, files)
    result = cli("export", "noark5", str(tmp_path / "exports" / "third"), "--standards", str(standards_dir))
    assert result.exit_code == 0, result.stderr
    assert not left[0].exists()
    assert list(out.parent.glob(".second.partial-*"))  # a live export's folder is never touched
    other.kill()
    other.communicate(timeout=60)


def _closed_norwegian_register(tmp_path: Path) -> tuple[str, Path]:
    db_url, files = f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "files"
    cli = Cli(db_url, files)
    for args in (("init", "--name", "Rennebu kommune", "--org-number", "964903123", "--country", "NO"),
                 ("case", "open", "--title", "Søknad"), ("record", "add", "2026/1", "--direction", "in",
                                                          "--description", "Søknad", "--from", "Per"),
                 ("case", "close", "2026/1")):
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
    return db_url, files
