"""The Noark 5 validator: the constructed sample passes; a broken copy fails with the rule it breaks named."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from smcase.cli import create_cli
from smcase.standards import ENV, Standards
from smcase.validate.noark5 import RULES, NoarkValidator

from .conftest import REPO, shared_folder


@pytest.fixture(scope="module")
def validator() -> NoarkValidator:
    return NoarkValidator(Standards(shared_folder(ENV, REPO.parent / "shared" / "standards")))


@pytest.fixture
def sample(noark_sample: Path) -> Path:
    return noark_sample


def edit(name: str, pattern: str, replacement: str, count: int = 1) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / name
        text = path.read_text(encoding="utf-8")
        changed, n = re.subn(pattern, replacement, text, count=count, flags=re.DOTALL)
        assert n, f"{pattern!r} not found in {name}"
        path.write_text(changed, encoding="utf-8")
    return change


def flag(name: str, value: str) -> Callable[[Path], None]:
    return edit("arkivuttrekk.xml", rf'(name="{name}">\s*<value>)\w+', rf"\g<1>{value}")


def unlink(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).unlink()


def stray(root: Path) -> None:
    (root / "dokumenter" / "Thumbs.db").write_bytes(b"stray")


BROKEN: dict[str, Callable[[Path], None]] = {
    "N5.01": unlink("endringslogg.xml"),
    "N5.02": edit("arkivuttrekk.xml", r"(<value>)[0-9a-f]{64}(</value>)", r"\g<1>" + "0" * 64 + r"\g<2>"),
    "N5.03": edit("loependeJournal.xml", r"<journaldato>[^<]*</journaldato>", ""),
    "N5.10": edit("arkivuttrekk.xml", r"(<value>mappe</value>.*?<value>)\d+", r"\g<1>99"),
    "N5.12": edit("arkivstruktur.xml", r'(<mappe xsi:type="saksmappe">)',
                  r"<klasse><systemID>00000000-0000-4000-8000-000000000001</systemID><klasseID>X</klasseID>"
                  r"<tittel>Underklasse</tittel><opprettetDato>2025-01-01T00:00:00+01:00</opprettetDato>"
                  r"<opprettetAv>A</opprettetAv></klasse>\g<1>"),
    "N5.15": edit("arkivstruktur.xml", r"<saksstatus>Avsluttet</saksstatus>", "<saksstatus>Under behandling</saksstatus>"),
    "N5.16": edit("arkivuttrekk.xml", r"(<value>registrering</value>.*?<value>)\d+", r"\g<1>99"),
    "N5.19": edit("arkivstruktur.xml", r'(</klasse>\s*</klassifikasjonssystem>)',
                  r"<klasse><systemID>00000000-0000-4000-8000-000000000002</systemID><klasseID>Y</klasseID>"
                  r"<tittel>Underklasse</tittel><opprettetDato>2025-01-01T00:00:00+01:00</opprettetDato>"
                  r"<opprettetAv>A</opprettetAv></klasse><registrering><systemID>"
                  r"00000000-0000-4000-8000-000000000003</systemID><opprettetDato>2025-01-01T00:00:00+01:00"
                  r"</opprettetDato><opprettetAv>A</opprettetAv><arkivertDato>2025-01-01T00:00:00+01:00"
                  r"</arkivertDato><arkivertAv>A</arkivertAv><tittel>T</tittel></registrering>\g<1>"),
    "N5.22": edit("arkivstruktur.xml", r"<journalstatus>Arkivert</journalstatus>", "<journalstatus>Journalført</journalstatus>"),
    "N5.25": edit("arkivstruktur.xml", r"<dokumentstatus>Dokumentet er ferdigstilt</dokumentstatus>",
                  "<dokumentstatus>Dokumentet er under redigering</dokumentstatus>"),
    "N5.27": edit("arkivstruktur.xml", r'(<registrering xsi:type="journalpost">\s*<systemID>[^<]*</systemID>\s*'
                                      r'<opprettetDato>)[^<]*', r"\g<1>3. mars 2025"),
    "N5.28": edit("arkivuttrekk.xml", r'(name="antallDokumentfiler">\s*<value>)\d+', r"\g<1>7"),
    "N5.29": edit("arkivstruktur.xml", r"<format>txt</format>", "<format>pdf</format>"),
    "N5.30": edit("arkivstruktur.xml", r"(<sjekksum>)[0-9a-f]{64}", r"\g<1>" + "1" * 64),
    "N5.32": edit("arkivstruktur.xml", r"<referanseDokumentfil>dokumenter/2025-1-1.txt",
                  "<referanseDokumentfil>dokumenter/borte.txt"),
    "N5.33": stray,
    "N5.42": flag("inneholderSkjermetInformasjon", "false"),
    "N5.44": flag("inneholderDokumenterSomSkalKasseres", "true"),
    "N5.45": flag("omfatterDokumenterSomErKassert", "true"),
    "N5.47": edit("arkivstruktur.xml", r"(<dokumentobjekt>\s*<systemID>)[^<]*",
                  r"\g<1>8aff3b3d-d30c-5d60-b8a8-9753379e3860"),
    "N5.48": edit("arkivstruktur.xml", r"<referanseArkivdel>8aff3b3d-d30c-5d60-b8a8-9753379e3860",
                  "<referanseArkivdel>00000000-0000-4000-8000-0000000000aa"),
    "N5.51": edit("arkivstruktur.xml", r"(<saksstatus>Avsluttet</saksstatus>)",
                  r"\g<1><referanseSekundaerKlassifikasjon>00000000-0000-4000-8000-0000000000bb"
                  r"</referanseSekundaerKlassifikasjon>"),
    "N5.59": edit("offentligJournal.xml", r"(<antallJournalposter>)\d+", r"\g<1>9"),
    "N5.60": edit("offentligJournal.xml", r"(<journalStartDato>)[^<]*", r"\g<1>2024-01-01"),
    "N5.61": lambda root: (root / "endringslogg.xml").write_text("<endringslogg><endring>", encoding="utf-8"),
    "N5.62": edit("endringslogg.xml", r"(<referanseArkivenhet>)[^<]*", r"\g<1>00000000-0000-4000-8000-0000000000cc"),
    "N5.63": edit("arkivstruktur.xml", r"<dokumentmedium>Elektronisk arkiv</dokumentmedium>",
                  "<dokumentmedium> </dokumentmedium>"),
}


def test_every_rule_has_a_broken_copy() -> None:
    assert sorted(BROKEN) == sorted(rule for rule, _name in RULES)


def test_the_constructed_sample_passes_every_rule(validator: NoarkValidator, sample: Path) -> None:
    report = validator.validate(sample)
    assert report.ok, [(r.id, r.errors) for r in report.rules if not r.ok]
    assert len(report.rules) == 27


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_a_broken_copy_fails_with_the_rule_named(validator: NoarkValidator, sample: Path, rule: str) -> None:
    BROKEN[rule](sample)
    report = validator.validate(sample)
    assert not report.ok
    assert rule in report.failed(), report.failed()
    failing = next(r for r in report.rules if r.id == rule)
    assert failing.errors and all(isinstance(e, str) and e for e in failing.errors)


@pytest.mark.parametrize("rule", ["N5.12", "N5.19", "N5.15", "N5.47"])
def test_rules_hold_when_the_whole_file_is_one_line(validator: NoarkValidator, sample: Path, rule: str) -> None:
    """Other producers write arkivstruktur.xml without line breaks: nothing may be keyed by line number."""
    path = sample / "arkivstruktur.xml"

    def flatten() -> None:
        tree = etree.parse(str(path), etree.XMLParser(remove_blank_text=True))
        tree.write(str(path), encoding="utf-8", xml_declaration=True)
        documented = hashlib.sha256(path.read_bytes()).hexdigest()
        addml = sample / "arkivuttrekk.xml"
        text = addml.read_text(encoding="utf-8")
        addml.write_text(re.sub(r"(arkivstruktur\.xml.*?<value>)[0-9a-f]{64}", lambda m: m[1] + documented, text,
                                count=1, flags=re.S), encoding="utf-8")

    flatten()
    assert validator.validate(sample).ok, "the flattened sample must still pass"
    BROKEN[rule](sample)
    flatten()
    assert etree.parse(str(path)).getroot()[-1].sourceline == 2
    assert rule in validator.validate(sample).failed()


def test_a_tar_in_arkades_layout_is_read(validator: NoarkValidator, sample: Path, tmp_path: Path) -> None:
    archive = tmp_path / "uttrekk.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(sample, arcname="6f2b0e1c-0000-4000-8000-000000000001/content")
    assert validator.validate(archive).ok


def test_the_validate_command_reports_per_rule_and_exits_1_on_errors(sample: Path) -> None:
    standards = str(shared_folder(ENV, REPO.parent / "shared" / "standards"))
    good = CliRunner().invoke(create_cli(), ["validate", str(sample), "--standards", standards])
    assert good.exit_code == 0 and "all rules pass" in good.stdout and good.stdout.count(" OK ") == 27
    BROKEN["N5.15"](sample)
    bad = CliRunner().invoke(create_cli(), ["validate", str(sample), "--standards", standards, "--json"])
    assert bad.exit_code == 1 and '"id": "N5.15"' in bad.stdout and "Under behandling" in bad.stdout


def journal_checksum(root: Path) -> None:
    """loependeJournal.xml changed after arkivuttrekk.xml documented its checksum (still valid XML)."""
    with (root / "loependeJournal.xml").open("a", encoding="utf-8") as stream:
        stream.write("<!-- changed afterwards -->\n")


def structure_checksum(root: Path) -> None:
    """arkivstruktur.xml changed after arkivuttrekk.xml documented its checksum (the worker hashes it)."""
    with (root / "arkivstruktur.xml").open("a", encoding="utf-8") as stream:
        stream.write("<!-- changed afterwards -->\n")


#: Broken copies whose errors are found by the second process (when the files are large): the journals' schema
#: and heads, the journals' and arkivstruktur.xml's checksums.
IN_THE_JOURNALS = {"N5.02": journal_checksum, "N5.02 arkivstruktur.xml": structure_checksum,
                   "N5.03": BROKEN["N5.03"], "N5.59": BROKEN["N5.59"], "N5.60": BROKEN["N5.60"]}


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """The worker processes the validator starts (to prove the work was done there, not by the fallback)."""
    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    def spy(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        process = popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(process)
        return process

    monkeypatch.setattr("smcase.validate.noark5.subprocess.Popen", spy)
    return started


@pytest.mark.parametrize("rule", sorted(IN_THE_JOURNALS))
def test_the_journals_checked_in_a_second_process_give_the_same_report(validator: NoarkValidator, sample: Path,
                                                                       rule: str,
                                                                       workers: list[subprocess.Popen[bytes]]) -> None:
    IN_THE_JOURNALS[rule](sample)
    serial = NoarkValidator(validator.standards, parallel=False).validate(sample)
    assert not workers
    parallel = NoarkValidator(validator.standards, parallel=True).validate(sample)
    assert [w.returncode for w in workers] == [0]
    assert rule.split()[0] in serial.failed()
    assert parallel.to_json() == serial.to_json()


def test_large_journals_go_to_a_second_process_by_themselves(validator: NoarkValidator, sample: Path,
                                                            workers: list[subprocess.Popen[bytes]],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert NoarkValidator(validator.standards).validate(sample).ok
    assert not workers, "the sample's journals are small: no second process"
    monkeypatch.setattr(NoarkValidator, "PARALLEL_BYTES", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert NoarkValidator(validator.standards).validate(sample).ok
    assert [w.returncode for w in workers] == [0]


def test_a_worker_that_dies_loses_no_check(validator: NoarkValidator, sample: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    BROKEN["N5.59"](sample)
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the worker exits at once with status 1
    report = NoarkValidator(validator.standards, parallel=True).validate(sample)
    assert report.to_json() == NoarkValidator(validator.standards, parallel=False).validate(sample).to_json()
    assert "N5.59" in report.failed()


def test_the_worker_never_runs_the_callers_own_code(validator: NoarkValidator, sample: Path, tmp_path: Path) -> None:
    """A script without an ``if __name__ == "__main__"`` guard: a multiprocessing worker would run it again."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from pathlib import Path\n"
        "from smcase.standards import Standards\n"
        "from smcase.validate.noark5 import NoarkValidator\n"
        "print('started', flush=True)\n"
        f"report = NoarkValidator(Standards(Path({str(validator.standards.root)!r})), parallel=True)"
        f".validate(Path({str(sample)!r}))\n"
        "print('ok' if report.ok else report.failed())\n", encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["started", "ok"]


@pytest.mark.parametrize("pending", [NoarkValidator.PENDING, 1])
def test_each_empty_element_is_reported_once_with_its_own_unit(validator: NoarkValidator, sample: Path,
                                                               monkeypatch: pytest.MonkeyPatch, pending: int) -> None:
    """N5.63 checks a folder's registrations with the folder, or one by one past ``PENDING``: the same report."""
    monkeypatch.setattr(NoarkValidator, "PENDING", pending)
    edit("arkivstruktur.xml", r'(<registrering xsi:type="journalpost">\s*<systemID>[^<]*</systemID>\s*'
                              r'<opprettetDato>[^<]*</opprettetDato>\s*<opprettetAv>)[^<]*', r"\g<1>", count=0)(sample)
    edit("arkivstruktur.xml", r"(<mappeID>[^<]*</mappeID>(?:(?!<registrering).)*?<opprettetAv>)[^<]*", r"\g<1>",
         count=0)(sample)
    errors = next(rule for rule in validator.validate(sample).rules if rule.id == "N5.63").errors
    units = sorted(re.search(r"\((20\d\d/\d-?\d?)\)", error)[1] for error in errors)  # type: ignore[index]
    assert units == ["2025/1", "2025/1-1", "2025/1-2", "2025/2", "2025/2-1", "2025/2-2"], errors
    assert all("/opprettetAv (" in error for error in errors)


def test_a_schema_error_in_arkivstruktur_stops_no_other_rule(validator: NoarkValidator, sample: Path) -> None:
    """The rules read the file again without the schema; what other rules found before is kept, nothing twice."""
    edit("arkivstruktur.xml", r"(<saksstatus>Avsluttet</saksstatus>)", r"\g<1><ukjentElement>x</ukjentElement>")(sample)
    BROKEN["N5.15"](sample)
    BROKEN["N5.28"](sample)
    rules = {rule.id: rule.errors for rule in validator.validate(sample).rules if not rule.ok}
    assert sorted(rules) == ["N5.02", "N5.03", "N5.15", "N5.28"], rules  # N5.02: the files were edited
    assert len(rules["N5.15"]) == 1 and len(rules["N5.28"]) == 1
    assert [e for e in rules["N5.03"] if e.startswith("arkivstruktur.xml")] == rules["N5.03"][:1]
    assert "ukjentElement" in rules["N5.03"][0]


def test_an_arkivstruktur_that_is_not_well_formed_is_reported_once(validator: NoarkValidator, sample: Path) -> None:
    path = sample / "arkivstruktur.xml"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    report = validator.validate(sample)
    errors = next(rule for rule in report.rules if rule.id == "N5.03").errors
    assert [e for e in errors if e.startswith("arkivstruktur.xml")] == [errors[0]]
    assert "not well-formed" in errors[0]


@pytest.mark.parametrize("parallel", [False, True])
def test_a_journal_cut_short_is_reported_as_not_well_formed_with_its_line(validator: NoarkValidator, sample: Path,
                                                                          parallel: bool) -> None:
    path = sample / "offentligJournal.xml"
    text = path.read_text(encoding="utf-8")
    cut = text.index("</journalsekvensnummer>") + len("</journalse")
    path.write_text(text[:cut], encoding="utf-8")
    line = text[:cut].count("\n") + 1
    errors = next(r for r in NoarkValidator(validator.standards, parallel=parallel).validate(sample).rules
                  if r.id == "N5.03").errors
    assert errors == [f"offentligJournal.xml not well-formed, line {line}: "
                      f"Opening and ending tag mismatch: journalsekvensnummer line {line} and journalse"], errors


def test_n5_59_counts_the_journal_entries_not_only_the_heads(validator: NoarkValidator, sample: Path) -> None:
    # issue 13: a journalregistrering deleted with the head left unchanged used to pass
    edit("offentligJournal.xml", r"<journalregistrering>.*?</journalregistrering>", "")(sample)
    failing = next(r for r in validator.validate(sample).rules if r.id == "N5.59")
    assert any("offentligJournal.xml: its head says antallJournalposter" in e for e in failing.errors), failing.errors
