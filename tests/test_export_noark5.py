"""The Noark 5 v5.0 extraction (REN-6): valid against the official schemas and Arkade's error rules."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from smcase.errors import ConfigError
from smcase.export import noark5
from smcase.export.noark5 import NoarkExport
from smcase.register import RegisterService
from smcase.standards import Standards

from .conftest import Cli

N = "{http://www.arkivverket.no/standarder/noark5/arkivstruktur}"
ADDML = "{http://www.arkivverket.no/standarder/addml}"
FNR = "01010012356"
SECRET_TITLE = "Innlegg med fødselsnummer fra Kari Hansen"


def ok(result: object) -> str:
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    return str(result.stdout)  # type: ignore[attr-defined]


@pytest.fixture
def register(cli: Cli, tmp_path: Path) -> Cli:
    """A Norwegian register filled through the CLI: closed cases of every kind, and an open one."""
    ok(cli("init", "--name", "Rennebu kommune", "--org-number", "964903123", "--country", "NO"))
    feed = [
        {"id": "c1", "kind": "comment", "direction": "in", "author": {"name": "Ola Nordmann"},
         "text": "Hvorfor er fortauet ikke brøytet?"},
        {"id": "r1", "kind": "comment", "direction": "out", "in_reply_to": "c1", "text": "Brøytebilen kommer nå."},
        {"id": "c2", "kind": "comment", "direction": "in", "author": {"name": "Kari Hansen"},
         "text": f"Fødselsnummeret mitt er {FNR}"},
        {"id": "c3", "kind": "comment", "direction": "in", "text": "Jeg vet hvor du bor, pass deg."},
    ]
    lines = "".join(json.dumps({"platform": "facebook", "created_at": "2026-03-01T10:00:00+01:00", **e}) + "\n"
                    for e in feed)
    assert json.loads(ok(cli("ingest", "-", "--format", "jsonl", "--json", input=lines)))["cases_opened"] == 3
    letter = tmp_path / "brev.pdf"
    letter.write_bytes(b"%PDF-1.4 smcase test letter")
    ok(cli("case", "open", "--title", "Søknad om skilt", "--class", "076"))  # 2026/4
    ok(cli("record", "add", "2026/4", "--direction", "in", "--description", "Søknad", "--from", "Per Hansen",
           "--file", str(letter)))
    ok(cli("record", "add", "2026/4", "--direction", "out", "--description", "Vedtak", "--to", "Per Hansen"))
    ok(cli("case", "mark", "2026/2", "--ground", "offl-13", "--reason", "Annen hjemmel"))
    ok(cli("case", "update", "2026/2", "--title", SECRET_TITLE))
    for number in ("2026/1", "2026/2", "2026/3", "2026/4"):
        ok(cli("case", "close", number))
    ok(cli("case", "open", "--title", "Fortsatt åpen sak"))  # 2026/5 stays open
    return cli


def export(cli: Cli, standards_dir: Path, out: Path) -> dict[str, object]:
    return json.loads(ok(cli("export", "noark5", str(out), "--standards", str(standards_dir), "--json")))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ren6_the_extraction_passes_arkades_error_rules(register: Cli, standards_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "uttrekk"
    summary = export(register, standards_dir, out)
    assert (summary["cases"], summary["records"], summary["documents"], summary["open_cases"]) == (4, 6, 5, 1)
    tree = etree.parse(str(out / "arkivstruktur.xml"))
    addml = etree.parse(str(out / "arkivuttrekk.xml"))
    values = {}
    for prop in addml.iter(f"{ADDML}property"):
        value = prop.find(f"{ADDML}value")
        if value is not None:
            values.setdefault(prop.get("name"), []).append(value.text)
    # N5.10, N5.16: counts documented = counts found
    occurrences = [p for p in addml.iter(f"{ADDML}property") if p.get("name") == "numberOfOccurrences"]
    documented = {(p.find(f"{ADDML}value").text): int(p.find(f".//{ADDML}property[@name='value']/{ADDML}value").text)
                  for p in occurrences[:2]}
    assert documented == {"mappe": len(tree.findall(f".//{N}mappe")),
                          "registrering": len(tree.findall(f".//{N}registrering"))} == {"mappe": 4, "registrering": 6}
    # N5.02: every listed file's checksum is its SHA-256
    for prop in addml.iter(f"{ADDML}property"):
        if prop.get("name") == "file":
            name = prop.find(f"{ADDML}properties/{ADDML}property[@name='name']/{ADDML}value").text
            checksum = prop.find(f".//{ADDML}property[@name='value']/{ADDML}value")
            if checksum is not None:
                assert checksum.text == sha(out / name), name
    # N5.15, N5.22, N5.25: only closed material
    assert {e.text for e in tree.iter(f"{N}saksstatus")} == {"Avsluttet"}
    assert {e.text for e in tree.iter(f"{N}journalstatus")} == {"Arkivert"}
    assert {e.text for e in tree.iter(f"{N}dokumentstatus")} == {"Dokumentet er ferdigstilt"}
    # N5.28, N5.29, N5.30, N5.32, N5.33: documents folder, formats, checksums, references both ways
    files = {str(p.relative_to(out)) for p in (out / "DOKUMENT").rglob("*") if p.is_file()}
    assert values["antallDokumentfiler"] == [str(len(files))]
    referenced = set()
    for obj in tree.iter(f"{N}dokumentobjekt"):
        reference = obj.findtext(f"{N}referanseDokumentfil")
        referenced.add(reference)
        assert reference.rsplit(".", 1)[1] == obj.findtext(f"{N}format")
        assert obj.findtext(f"{N}sjekksum") == sha(out / reference)
    assert referenced == files and {r.rsplit(".", 1)[1] for r in files} == {"txt", "pdf"}
    # N5.47: system IDs unique; N5.62: the change log points into arkivstruktur.xml
    ids = [e.text for e in tree.iter(f"{N}systemID")]
    assert len(ids) == len(set(ids))
    log = etree.parse(str(out / "endringslogg.xml"))
    references = [e.text for e in log.iter("{http://www.arkivverket.no/standarder/noark5/endringslogg}"
                                           "referanseArkivenhet")]
    assert references and set(references) <= set(ids)
    assert "tittel" in [e.text for e in log.iter("{http://www.arkivverket.no/standarder/noark5/endringslogg}"
                                                 "referanseMetadata")]
    # N5.42, N5.44: flags agree with content
    assert values["inneholderSkjermetInformasjon"] == ["true"] and tree.find(f".//{N}skjerming") is not None
    assert values["inneholderDokumenterSomSkalKasseres"] == [
        "true" if tree.find(f".//{N}kassasjon") is not None else "false"]
    # N5.59, N5.60: both journals agree with each other and with arkivstruktur.xml ("skarpt")
    days = sorted(e.text for e in tree.iter(f"{N}journaldato"))
    for name in ("loependeJournal", "offentligJournal"):
        ns = f"{{http://www.arkivverket.no/standarder/noark5/{name}}}"
        journal = etree.parse(str(out / f"{name}.xml"))
        assert journal.findtext(f".//{ns}antallJournalposter") == "6"
        assert (journal.findtext(f".//{ns}journalStartDato"), journal.findtext(f".//{ns}journalSluttDato")) == (
            days[0], days[-1])
        seqs = [int(e.text) for e in journal.iter(f"{ns}journalsekvensnummer")]
        assert seqs == sorted(seqs)  # krav 6.4.30
    # N5.63: no element without content
    for path in ("arkivstruktur.xml", "endringslogg.xml", "loependeJournal.xml", "offentligJournal.xml"):
        for element in etree.parse(str(out / path)).iter():
            assert len(element) or (element.text or "").strip(), (path, element.tag)
    # the xsi:type is written with the xsi prefix, as Arkade reads it
    assert b'xsi:type="saksmappe"' in (out / "arkivstruktur.xml").read_bytes()


def test_the_public_journal_withholds_screened_values(register: Cli, standards_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "uttrekk"
    export(register, standards_dir, out)
    public = (out / "offentligJournal.xml").read_text(encoding="utf-8")
    running = (out / "loependeJournal.xml").read_text(encoding="utf-8")
    assert SECRET_TITLE not in public and "Kari Hansen" not in public and FNR not in public
    assert "*****" in public and "Skjermet sak" in public
    assert SECRET_TITLE in running  # the full journal keeps it, for the archive


def test_every_party_of_a_record_goes_into_the_structure_and_both_journals(register: Cli, standards_dir: Path,
                                                                           tmp_path: Path) -> None:
    ok(register("case", "open", "--title", "Høring om trafikksikkerhet", "--class", "076"))  # 2026/6
    ok(register("record", "add", "2026/6", "--direction", "out", "--description", "Høringsbrev",
                "--to", "Statens vegvesen", "--to", "Trøndelag fylkeskommune", "--to", "Rennebu idrettslag"))
    ok(register("case", "close", "2026/6"))
    out = tmp_path / "uttrekk"
    export(register, standards_dir, out)  # validated against the schemas: the parties sit in schema order
    record = json.loads(ok(register("case", "show", "2026/6", "--json")))["records"][0]
    roles = {"sender": "Avsender", "recipient": "Mottaker"}
    expected = [(roles[c["role"]], c["name"]) for c in record["correspondents"]]
    assert expected[-3:] == [("Mottaker", "Statens vegvesen"), ("Mottaker", "Trøndelag fylkeskommune"),
                             ("Mottaker", "Rennebu idrettslag")] and len(expected) == 4  # and the officer sends it
    post = next(e for e in etree.parse(str(out / "arkivstruktur.xml")).iter(f"{N}registrering")
                if e.findtext(f"{N}registreringsID") == "2026/6-1")
    parties = [(p.findtext(f"{N}korrespondanseparttype"), p.findtext(f"{N}korrespondansepartNavn"))
               for p in post.iter(f"{N}korrespondansepart")]
    assert parties == expected
    for journal in ("loependeJournal", "offentligJournal"):
        ns = f"{{http://www.arkivverket.no/standarder/noark5/{journal}}}"
        entry = next(e for e in etree.parse(str(out / f"{journal}.xml")).iter(f"{ns}journalpost")
                     if e.findtext(f"{ns}offentligTittel") == "Høringsbrev")
        assert [(p.findtext(f"{ns}korrespondanseparttype"), p.findtext(f"{ns}korrespondansepartNavn"))
                for p in entry.iter(f"{ns}korrespondansepart")] == expected


def test_system_ids_stay_the_same_from_one_extraction_to_the_next(register: Cli, standards_dir: Path,
                                                                  tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    export(register, standards_dir, first)
    export(register, standards_dir, second)
    ids = [[e.text for e in etree.parse(str(d / "arkivstruktur.xml")).iter(f"{N}systemID")] for d in (first, second)]
    assert ids[0] == ids[1]
    assert sorted(p.name for p in (first / "DOKUMENT").iterdir()) == sorted(p.name for p in (second / "DOKUMENT").iterdir())


def test_the_period_selects_by_closing_day_and_open_cases_are_reported(register: Cli, standards_dir: Path,
                                                                       tmp_path: Path) -> None:
    nothing = register("export", "noark5", str(tmp_path / "x"), "--standards", str(standards_dir),
                       "--period-start", "2001-01-01", "--period-end", "2001-12-31")
    assert nothing.exit_code == 1 and "no case was closed between 2001-01-01 and 2001-12-31" in nothing.stderr
    human = ok(register("export", "noark5", str(tmp_path / "y"), "--standards", str(standards_dir)))
    assert "valid against the official schemas" in human
    assert Counter(p.suffix for p in (tmp_path / "y").iterdir())[".xsd"] == 6


def test_refusals_name_the_problem_and_leave_nothing_behind(register: Cli, standards_dir: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    exists = tmp_path / "exists"
    exists.mkdir()
    result = register("export", "noark5", str(exists), "--standards", str(standards_dir))
    assert result.exit_code == 1 and "exists already" in result.stderr
    incomplete = tmp_path / "standards"
    incomplete.mkdir()
    result = register("export", "noark5", str(tmp_path / "z"), "--standards", str(incomplete))
    assert result.exit_code == 1 and "is missing" in result.stderr and not (tmp_path / "z").exists()

    def broken(self: NoarkExport, work: Path) -> None:
        raise ConfigError("the extraction does not validate: arkivstruktur.xml: (simulated)")

    monkeypatch.setattr(noark5.NoarkExport, "_validate", broken)
    result = register("export", "noark5", str(tmp_path / "w"), "--standards", str(standards_dir))
    assert result.exit_code == 1 and "does not validate" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".w", "w"))) == []


def test_a_swedish_register_is_not_extracted_as_noark(se: RegisterService, standards_dir: Path) -> None:
    with pytest.raises(Exception, match="needs a Norwegian register with Noark numbering"):
        NoarkExport(se, Standards(standards_dir))


def test_tar_output_in_arkades_layout_validates(register: Cli, standards_dir: Path, tmp_path: Path) -> None:
    import tarfile

    from smcase.validate.noark5 import NoarkValidator

    archive = tmp_path / "uttrekk.tar"
    summary = json.loads(ok(register("export", "noark5", str(archive), "--tar", "--standards", str(standards_dir),
                                     "--json")))
    assert summary["tar_sha256"] == sha(archive)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert all(re.fullmatch(r"[0-9a-f-]{36}(/content(/.*)?)?", n) for n in names), names[:5]
    assert any(n.endswith("/content/arkivuttrekk.xml") for n in names)
    assert NoarkValidator(Standards(standards_dir)).validate(archive).ok
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_streaming_in_many_small_batches_gives_the_same_extraction(register: Cli, standards_dir: Path,
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    export(register, standards_dir, tmp_path / "one")
    monkeypatch.setattr(NoarkExport, "batch", 2)  # many partitions, as in a large register
    summary = export(register, standards_dir, tmp_path / "many")
    assert (summary["cases"], summary["records"]) == (4, 6)
    ids = [[e.text for e in etree.parse(str(d / "arkivstruktur.xml")).iter(f"{N}systemID")]
           for d in (tmp_path / "one", tmp_path / "many")]
    assert ids[0] == ids[1]


def test_closed_cases_without_journal_posts_are_refused_with_the_reason(cli: Cli, standards_dir: Path,
                                                                       tmp_path: Path) -> None:
    # issue 13: journalStartDato was written as 'None' and the export failed on its own schema check
    ok(cli("init", "--name", "Rennebu kommune", "--org-number", "964903123", "--country", "NO"))
    ok(cli("case", "open", "--title", "Sak uten journalposter"))
    ok(cli("case", "close", "2026/1"))
    out = tmp_path / "uttrekk"
    result = cli("export", "noark5", str(out), "--standards", str(standards_dir))
    assert result.exit_code == 1 and "no journal post" in result.stderr and "None" not in result.stderr
    assert not out.exists() and list(tmp_path.glob(".uttrekk*")) == []
    ok(cli("case", "open", "--title", "Sak med journalpost"))
    ok(cli("record", "add", "2026/2", "--direction", "in", "--description", "Brev", "--from", "Per"))
    ok(cli("case", "close", "2026/2"))
    ok(cli("export", "noark5", str(out), "--standards", str(standards_dir)))  # an empty case beside one is fine


def test_tar_is_added_to_the_name_when_missing(register: Cli, standards_dir: Path, tmp_path: Path) -> None:
    shown = ok(register("export", "noark5", str(tmp_path / "uttrekk"), "--tar", "--standards", str(standards_dir)))
    assert (tmp_path / "uttrekk.tar").is_file() and not (tmp_path / "uttrekk").exists()
    assert str(tmp_path / "uttrekk.tar") in shown
    ok(register("validate", str(tmp_path / "uttrekk.tar"), "--standards", str(standards_dir)))
