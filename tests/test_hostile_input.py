"""Hostile input (issue 13): XML that declares entities, archives that climb out of their folder or bomb,
input that nests deep or does not decode: each refused with one line, never a crash or a traceback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from smcase import xmlsafe
from smcase.errors import InvalidInput

from .conftest import Cli

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE erms [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
"""


def smcase(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh process (a crash shows as a signal, a traceback on stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "SMCASE_DEBUG"}
    return subprocess.run([sys.executable, "-m", "smcase", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def one_line_refusal(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]


def with_doctype(path: Path, doctype: str) -> None:
    """Put ``doctype`` (with the XML declaration) in front of ``path``'s root element, using its entities."""
    text = path.read_text(encoding="utf-8")
    body = text[text.index("?>") + 2:] if text.startswith("<?xml") else text
    path.write_text(doctype + body.replace("</", "&lol9;</" if "lol9" in doctype else "&secret;</", 1),
                    encoding="utf-8")


def test_billion_laughs_in_arkivstruktur_is_refused_with_one_line(noark_sample: Path, standards_dir: Path) -> None:
    with_doctype(noark_sample / "arkivstruktur.xml", LAUGHS)
    one_line_refusal(smcase("validate", str(noark_sample), "--standards", str(standards_dir)),
                     "arkivstruktur.xml", "declares entities")


def test_billion_laughs_in_a_tar_is_refused_too(noark_sample: Path, standards_dir: Path, tmp_path: Path) -> None:
    with_doctype(noark_sample / "loependeJournal.xml", LAUGHS)
    tar = tmp_path / "uttrekk.tar"
    with tarfile.open(tar, "w") as archive:
        archive.add(noark_sample, arcname="x/content")
    one_line_refusal(smcase("validate", str(tar), "--standards", str(standards_dir)), "loependeJournal.xml")


def test_an_external_entity_in_a_bare_erms_file_is_refused(tmp_path: Path, standards_dir: Path) -> None:
    erms = tmp_path / "erms.xml"
    erms.write_text(EXTERNAL + '<erms xmlns="https://DILCIS.eu/XML/ERMS"><control/></erms>\n', encoding="utf-8")
    one_line_refusal(smcase("validate", str(erms), "--erms-version", "3.0", "--standards", str(standards_dir)),
                     "erms.xml", "declares entities")


@pytest.mark.parametrize("doctype", [
    LAUGHS, EXTERNAL, '<!DOCTYPE x SYSTEM "http://example.org/x.dtd">\n',
    "<!-- <a> a comment that looks like a root -->\n" + LAUGHS.split("\n", 1)[1],
    "<?xml version='1.0'?>\n<!-- padding -->" + " " * 5000 + LAUGHS.split("\n", 1)[1],
])
def test_the_prolog_check_finds_entities_and_external_dtds_wherever_they_hide(tmp_path: Path, doctype: str) -> None:
    path = tmp_path / "x.xml"
    path.write_text(doctype + "<root>&lol9;</root>\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="x.xml: refused"):
        xmlsafe.check(path)
    utf16 = tmp_path / "y.xml"
    utf16.write_bytes((doctype.replace("<?xml version='1.0'?>", "") + "<root/>").encode("utf-16"))
    with pytest.raises(InvalidInput, match="refused"):
        xmlsafe.check(utf16)


def test_plain_xml_and_a_bare_doctype_pass_the_prolog_check(tmp_path: Path) -> None:
    for text in ('<?xml version="1.0"?>\n<!-- fine -->\n<root a="1"/>', "<!DOCTYPE html>\n<html/>", "<r/>"):
        path = tmp_path / "ok.xml"
        path.write_text(text, encoding="utf-8")
        xmlsafe.check(path)


def test_the_safe_parser_never_expands_an_entity(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text(LAUGHS + "<root>&lol9;</root>\n", encoding="utf-8")
    try:  # even unchecked, the parser itself expands nothing (libxml2 may also stop it outright)
        tree = xmlsafe.parse(path, trusted=True)
    except etree.XMLSyntaxError as exc:
        assert "amplification" in str(exc)
    else:
        assert len(tree.getroot().xpath("string()")) < 100


def test_a_zip_bomb_is_refused_by_the_prolog_bound(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(b"<?xml version='1.0'?>\n<!--" + b" " * (xmlsafe.PROLOG_LIMIT + 10) + b"-->\n<r/>")
    with pytest.raises(InvalidInput, match="no root element"):
        xmlsafe.check(path)


def bad_tar(tmp_path: Path, make: str) -> Path:
    """A tar holding a Noark-looking extraction and one hostile member of the kind ``make`` names."""
    tar = tmp_path / "uttrekk.tar"
    with tarfile.open(tar, "w") as archive:
        def add(name: str, data: bytes = b"x", **fields: object) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            for key, value in fields.items():
                setattr(info, key, value)
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)

        add("x/content/arkivuttrekk.xml", b"<a/>")
        if make == "dotdot":
            add("x/content/../../evil.txt")
        elif make == "absolute":
            add("/tmp/evil.txt")
        elif make == "symlink":
            add("x/content/link", b"", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        elif make == "hardlink":
            add("x/content/hard", b"", type=tarfile.LNKTYPE, linkname="x/content/arkivuttrekk.xml")
        elif make == "device":
            add("x/content/dev", b"", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
    return tar


@pytest.mark.parametrize(("make", "words"), [
    ("dotdot", "climbs out"), ("absolute", "absolute path"), ("symlink", "symbolic link"),
    ("hardlink", "hard link"), ("device", "device"),
])
def test_a_hostile_tar_is_refused_with_one_line(tmp_path: Path, standards_dir: Path, make: str, words: str) -> None:
    one_line_refusal(smcase("validate", str(bad_tar(tmp_path, make)), "--standards", str(standards_dir)),
                     "uttrekk.tar: refused", words)
    assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.parametrize(("name", "words"), [("../evil.txt", "climbs out"), ("/abs/evil.txt", "absolute path"),
                                             ("a/../../evil.txt", "climbs out")])
def test_a_hostile_zip_is_refused_with_one_line(tmp_path: Path, standards_dir: Path, name: str, words: str) -> None:
    package = tmp_path / "package.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("package/METS.xml", "<mets/>")
        archive.writestr(zipfile.ZipInfo(name), "x")
    one_line_refusal(smcase("validate", str(package), "--standards", str(standards_dir)), "package.zip: refused",
                     words)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path, standards_dir: Path) -> None:
    package = tmp_path / "package.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("package/METS.xml", "<mets/>")
        archive.writestr("package/representations/rep1/data/zeros.bin", b"\0" * (64 << 20))
    assert package.stat().st_size < 1 << 20
    one_line_refusal(smcase("validate", str(package), "--standards", str(standards_dir)), "compression bomb")


def test_a_tar_gz_bomb_is_refused_before_it_is_unpacked(tmp_path: Path, standards_dir: Path) -> None:
    package = tmp_path / "package.tar.gz"
    zeros = tmp_path / "zeros.bin"
    zeros.write_bytes(b"\0" * (64 << 20))
    with tarfile.open(package, "w:gz") as archive:
        archive.add(zeros, arcname="pkg/representations/rep1/data/zeros.bin")
    zeros.unlink()
    assert package.stat().st_size < 1 << 20
    one_line_refusal(smcase("validate", str(package), "--standards", str(standards_dir)), "compression bomb")


def test_a_damaged_archive_is_one_line_too(tmp_path: Path, standards_dir: Path, noark_sample: Path) -> None:
    tar = tmp_path / "uttrekk.tar"
    with tarfile.open(tar, "w") as archive:
        archive.add(noark_sample, arcname="x/content")
    tar.write_bytes(tar.read_bytes()[: tar.stat().st_size // 3])
    result = smcase("validate", str(tar), "--standards", str(standards_dir))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


FORMATS = ["jsonl", "mastodon", "mastodon-api", "facebook-webhook", "facebook-dyi", "x-archive"]


@pytest.fixture
def register_cli(tmp_path: Path) -> Cli:
    """A Swedish register on SQLite, driven in-process (a traceback would fail the test)."""
    cli = Cli(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "files")
    assert cli("init", "--name", "K", "--country", "SE").exit_code == 0
    return cli


def ingest(cli: Cli, tmp_path: Path, data: bytes, fmt: str, name: str = "in.txt") -> Any:
    path = tmp_path / name
    path.write_bytes(data)
    return cli("ingest", str(path), "--format", fmt, "--json")


def quarantined(cli: Cli) -> list[dict[str, object]]:
    result = cli("inbox", "list", "--quarantined", "--json")
    assert result.exit_code == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("data", [b"[" * 100_000, b"{\"a\":" * 50_000, "å ä ö".encode("latin-1"),
                                  bytes(range(256)) * 4, b""], ids=["brackets", "objects", "latin-1", "binary", "empty"])
def test_deep_nesting_and_bad_bytes_are_quarantined_in_every_adapter(register_cli: Cli, tmp_path: Path, fmt: str,
                                                                     data: bytes) -> None:
    result = ingest(register_cli, tmp_path, data, fmt)
    assert result.exit_code in (0, 1), result.stderr[-1500:]
    if data:
        assert result.exit_code == 1 and "parses as" in result.stderr  # nothing parsed: said, and kept
        kept = quarantined(register_cli)
        assert kept and all(q["reason"] for q in kept)


@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_confidentiality_ground_is_refused_not_taken_as_public(register_cli: Cli, blank: str) -> None:
    opened = register_cli("case", "open", "--title", "Klagomål", "--confidential", blank)
    assert opened.exit_code == 1 and "no confidentiality ground given" in opened.stderr
    assert "KS 2026/1" not in register_cli("case", "list").stdout  # nothing was registered as public
    assert register_cli("case", "open", "--title", "Klagomål").exit_code == 0
    added = register_cli("record", "add", "KS 2026/1", "--direction", "in", "--description", "x",
                         "--confidential", blank)
    assert added.exit_code == 1 and "no confidentiality ground given" in added.stderr
    assert "KS 2026/1-1" not in register_cli("case", "show", "KS 2026/1").stdout


@pytest.mark.parametrize("member", ["../outbox.json", "/outbox.json", "a/../../outbox.json", "C:/outbox.json"])
def test_a_mastodon_zip_whose_outbox_climbs_out_is_quarantined_naming_the_member(register_cli: Cli, tmp_path: Path,
                                                                                member: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(member), json.dumps({"type": "OrderedCollection", "orderedItems": []}))
    summary = json.loads(ingest(register_cli, tmp_path, buffer.getvalue(), "mastodon", name="export.zip").stdout)
    assert summary["quarantined"] == 1 and summary["stored"] == 0
    (kept,) = quarantined(register_cli)
    assert f"its member {member!r} climbs out of the archive: refused" in kept["reason"]


def test_a_bad_change_in_a_webhook_delivery_is_quarantined_alone_and_the_rest_is_stored(register_cli: Cli,
                                                                                      tmp_path: Path) -> None:
    def change(n: int, **value: object) -> dict[str, object]:
        base: dict[str, object] = {"item": "comment", "verb": "add", "from": {"id": "7", "name": "A"},
                                   "comment_id": f"m{n}", "created_time": 1767600000 + n, "message": f"comment {n}"}
        return {"field": "feed", "value": {**base, **value}}

    delivery = {"object": "page", "entry": [
        {"id": "1", "changes": [change(1), change(2, **{"from": "Bertil"}), change(3, message={"text": "dict"}),
                                change(4, created_time=10**20), change(5)]},
        "abc"]}
    summary = json.loads(ingest(register_cli, tmp_path, json.dumps(delivery).encode(), "facebook-webhook",
                                name="w.json").stdout)
    assert (summary["received"], summary["stored"], summary["quarantined"]) == (6, 2, 4), summary
    reasons = " / ".join(str(q["reason"]) for q in quarantined(register_cli))
    assert "a value has the wrong type" in reasons and "text: holds a group of keys and values, not text" in reasons
    assert "stopped reading" not in reasons


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("created_at", "9999-12-31T23:59:59-01:00", "created at: 9999-12-31T23:59:59-01:00 is out of range"),
    ("created_at", "0001-01-01T00:00:00+01:00", "created at: 0001-01-01T00:00:00+01:00 is out of range"),
    ("revision", 10**20, "revision: 100000000000000000000 is not a whole number"),
])
def test_a_time_or_revision_out_of_range_is_quarantined_and_the_rest_of_the_file_is_stored(
        register_cli: Cli, tmp_path: Path, field: str, value: object, reason: str) -> None:
    good = {"platform": "facebook", "id": "ok1", "kind": "comment", "text": "hej",
            "created_at": "2026-03-01T10:00:00+01:00"}
    lines = [good, {**good, "id": "bad", field: value}, {**good, "id": "ok2"}]
    result = ingest(register_cli, tmp_path, "\n".join(json.dumps(line) for line in lines).encode(), "jsonl")
    summary = json.loads(result.stdout)
    assert (summary["stored"], summary["quarantined"]) == (2, 1), (summary, result.stderr)
    (kept,) = quarantined(register_cli)
    assert str(kept["reason"]).startswith(reason)


@pytest.mark.parametrize("args", [
    ("class", "add", "9.9", "Klass för 790524-4674"), ("class", "add", "7905244674", "x"),
    ("users", "add", "u7905244674", "--role", "officer"),
    ("users", "add", "olle", "--role", "officer", "--full-name", "Olle 620912-6371"),
    ("users", "add", "olle", "--role", "officer", "--title", "T 560804-7030"),
    ("record", "add", "KS 2026/1", "--direction", "in", "--description", "x", "--kind", "k8506034175"),
])
def test_values_every_user_sees_may_not_hold_an_identity_number(register_cli: Cli, args: tuple[str, ...]) -> None:
    """Class titles, user names and details and record kinds are shown to every user and never withheld."""
    assert register_cli("case", "open", "--title", "Brev").exit_code == 0
    result = register_cli(*args)
    assert result.exit_code == 1 and "may not hold an identity number" in result.stderr, result.stderr
    assert not any(part in result.stderr for part in ("4674", "6371", "7030", "4175"))


def test_distinct_broken_files_are_never_duplicates_of_each_other(register_cli: Cli, tmp_path: Path) -> None:
    for n, data in enumerate([b"\xff\xfe\x00binary", "caf\u00e9".encode("latin-1"), b"\x00\x01\x02"]):
        result = ingest(register_cli, tmp_path, data, "facebook-webhook", name=f"bad{n}.json")
        assert json.loads(result.stdout)["quarantined"] == 1, result.stdout
    assert len(quarantined(register_cli)) == 3


def test_identical_broken_lines_are_counted_one_by_one_and_a_second_run_adds_nothing(register_cli: Cli,
                                                                                     tmp_path: Path) -> None:
    lines = b"{not json\n" * 50
    first = json.loads(ingest(register_cli, tmp_path, lines, "jsonl").stdout)
    assert first["received"] == first["quarantined"] == 50
    assert len(quarantined(register_cli)) == 50
    again = json.loads(ingest(register_cli, tmp_path, lines, "jsonl").stdout)
    assert again["quarantined"] == 0 and again["duplicates"] == 50


BAD_COMMANDS: list[tuple[str, ...]] = [
    ("case", "show", "not a number"), ("case", "show", "KS 2026/9999"), ("case", "open", "--title", ""),
    ("case", "open", "--title", "x", "--class", "nope"), ("case", "list", "--from", "yesterday"),
    ("case", "update", "KS 2026/1", "--status", "gone"), ("case", "close", "KS 1/1"),
    ("case", "mark", "KS 2026/1", "--ground", "no-such-ground"), ("case", "reopen", "KS 2026/1", "--reason", ""),
    ("record", "add", "KS 2026/1", "--direction", "sideways", "--description", "x"),
    ("record", "add", "KS 2026/1", "--direction", "in", "--description", "x", "--file", "/no/such/file"),
    ("record", "show", "KS 2026/1-99"), ("class", "add", "a b", "x"), ("users", "add", "bad name!", "--role", "x"),
    ("users", "grant", "nobody", "--role", "admin"), ("journal", "--from", "2026-13-01", "--to", "2026-01-01"),
    ("journal", "--from", "2026-02-01", "--to", "2026-01-01"), ("ingest", "/no/such/file", "--format", "jsonl"),
    ("ingest", "-", "--format", "no-such-format"), ("inbox", "resolve", "zzzz", "--action", "removed"),
    ("inbox", "list", "--quarantined", "--review"), ("channel", "approve", "99", "--step", "x"),
    ("channel", "propose", "--plan", "/no/such/plan.toml"), ("policy", "check", "/no/such/policy.toml"),
    ("export", "noark5", "/no/such/dir/out"), ("export", "fgs", "/no/such/dir/out"),
    ("validate", "/no/such/package"), ("audit", "verify", "--checkpoint", "/no/such/checkpoint.json"),
    ("dispose", "log", "--limit", "0"), ("snapshot", "add", "99", "/no/such/file.png"), ("rescan", "--format", "x"),
    ("standards", "check", "--standards", "/no/such/dir"), ("duties", "--at", "someday"),
    # found by a hostile reading of issue 13's work
    ("case", "show", "KS 2026/99999999999999999999999"), ("record", "add", "KS 2026/99999999999999999999",
                                                         "--direction", "in", "--description", "x"),
    ("case", "mark", "KS 2026/1-99999999999999999999999", "--ground", "osl-21-3"),
    ("case", "list", "--to", "9999-12-31"), ("journal", "--from", "2026-01-01", "--to", "9999-12-31"),
    ("inbox", "list", "--to", "9999-12-31"), ("inbox", "list", "--text", "*** ((( \""),
    ("inbox", "flag", "zzzz", "--category", "threat"),
    ("inbox", "reply", "zzzz", "--referral"), ("inbox", "register", "zzzz"),
    ("channel", "followers", "99", "10"), ("channel", "revoke", "99", "x", "--reason", "y"),
    ("users", "update", "nobody", "--title", "x"),
    # found by a hostile reading of issue 15's work
    ("journal", "--from", "2026-01-01", "--to", "2026-12-31", "--out", "/no/such/dir/journal.html"),
    ("audit", "checkpoint", "--out", "/no/such/dir/head.json"),
    ("case", "open", "--title", "x", "--confidential", ""),
    ("journal", "--from", "2026-01-01", "--to", "2026-12-31", "--out", ""),
    ("dispose", "log", "--limit", "99999999999999999999999"), ("channel", "approve", "99999999999999999999", "--step", "x"),
    ("monitor", "log", "99999999999999999999999"),
]


@pytest.mark.parametrize("command", [("journal",), ("case", "list"), ("inbox", "list")])
def test_a_period_that_ends_before_it_starts_is_misuse_in_every_command(register_cli: Cli,
                                                                        command: tuple[str, ...]) -> None:
    result = register_cli(*command, "--from", "2026-02-01", "--to", "2026-01-01")
    assert result.exit_code == 2 and "--to 2026-01-01 is before --from 2026-02-01" in result.stderr


@pytest.mark.parametrize("args", [("journal", "--from", "2026-01-01", "--to", "2026-12-31", "--out"),
                                  ("audit", "checkpoint", "--out")])
def test_an_output_file_in_a_missing_folder_is_one_line_naming_the_folder(register_cli: Cli, tmp_path: Path,
                                                                          args: tuple[str, ...]) -> None:
    result = register_cli(*args, str(tmp_path / "missing" / "out.txt"))
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: cannot write {tmp_path / 'missing' / 'out.txt'}: the folder "
                                     f"{tmp_path / 'missing'} does not exist")
    folder = register_cli(*args, str(tmp_path))
    assert folder.exit_code == 1 and "it is a folder" in folder.stderr


@pytest.mark.parametrize("args", BAD_COMMANDS, ids=[" ".join(a)[:40] for a in BAD_COMMANDS])
def test_no_command_answers_bad_input_with_a_traceback(register_cli: Cli, args: tuple[str, ...]) -> None:
    """Every command, given bad input, fails with a message (exit 1 or 2), never an exception or a traceback."""
    from click.testing import CliRunner

    from smcase.cli import create_cli

    runner = CliRunner()
    result = runner.invoke(create_cli(), ["--db", register_cli.db_url, "--user", "anna", *args], input="[[[\n",
                           env={"SMCASE_FILES": str(register_cli.files_dir), "SMCASE_DEBUG": ""},
                           catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output


def test_a_bad_unpack_limit_is_one_line_and_never_stops_other_commands(tmp_path: Path, noark_sample: Path,
                                                                        standards_dir: Path) -> None:
    env = {**os.environ, "SMCASE_UNPACK_LIMIT": "256G"}
    assert subprocess.run([sys.executable, "-m", "smcase", "--help"], env=env, capture_output=True, text=True,
                          timeout=120).returncode == 0
    archive = tmp_path / "x.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(noark_sample, arcname="uttrekk")
    result = subprocess.run([sys.executable, "-m", "smcase", "validate", str(archive), "--standards",
                             str(standards_dir)], env=env, capture_output=True, text=True, timeout=300)
    one_line_refusal(result, "SMCASE_UNPACK_LIMIT", "256G")


@pytest.mark.parametrize("query", ['"*OR*("', "NEAR(a b)", "a AND NOT b", "text : x", "^abc*", "a' OR '1'='1"])
def test_search_syntax_in_a_query_is_only_words(register_cli: Cli, tmp_path: Path, query: str) -> None:
    """What a user types into --text or --author is words to find, never the full-text engine's syntax."""
    line = json.dumps({"platform": "facebook", "id": "c1", "kind": "comment", "direction": "in",
                       "text": "near a and not b or text x abc", "created_at": "2026-01-13T10:00:00+01:00"})
    ingest(register_cli, tmp_path, (line + "\n").encode(), "jsonl")
    for option in ("--text", "--author"):
        result = register_cli("inbox", "list", option, query, "--json")
        assert result.exit_code == 0 and "Traceback" not in result.stderr, result.stderr
        assert isinstance(json.loads(result.stdout or "[]"), list)
