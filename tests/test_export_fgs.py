"""The Swedish FGS 2.0 package (E-ARK CSIP/SIP METS + CITS ERMS): valid with ERMS 3.0 and 2.1, nothing secret in public fields."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from smcase.errors import ConfigError
from smcase.export import fgs
from smcase.export.fgs import FgsExport
from smcase.fgs import VERSIONS
from smcase.register import RegisterService
from smcase.standards import Standards

from .conftest import REPO, Cli
from .test_channels import walk

E = "{https://DILCIS.eu/XML/ERMS}"
M = "{http://www.loc.gov/METS/}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
CONTENT_TYPE = "{https://DILCIS.eu/XML/METS/CSIPExtensionMETS}CONTENTINFORMATIONTYPE"
PERSONNUMMER = "19121212-1212"
SECRET_TITLE = "Ansökan om hemtjänst för Kalle Bergs mamma"


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


@pytest.fixture
def torsby(cli: Cli, tmp_path: Path) -> Cli:
    """Torsby's register filled through the CLI (TOR-1 … TOR-9): a channel with plan and snapshot, ingested
    complaints, a personnummer (OSL 21 kap. 3 §), a threat removed after evidence, a social-services case
    (OSL 26 kap. 1 §), all closed but one."""
    snapshot = tmp_path / "snapshot.png"
    snapshot.write_bytes(b"\x89PNG\r\n\x1a\n screenshot of the page")
    walk(cli, "torsby", snapshot)  # KS 2026/0001: the channel case, with plan, approvals and snapshot
    ok(cli("ingest", str(REPO / "fixtures" / "events" / "torsby-facebook.jsonl"), "--format", "jsonl"))
    removal = next(e for e in json.loads(ok(cli("inbox", "list", "--open", "--json"))) if e["open_work"] == "removal")
    ok(cli("inbox", "resolve", removal["uuid"], "--action", "removed", "--note", "borttagen efter bevissäkring"))
    letter = tmp_path / "ansokan.pdf"
    letter.write_bytes(b"%PDF-1.4 ansokan")
    ok(cli("case", "open", "--title", "Ansökan", "--class", "1.4.4"))  # KS 2026/0005
    ok(cli("record", "add", "KS 2026/5", "--direction", "in", "--description", "Ansökan från Kalle Berg",
           "--from", "Kalle Berg", "--file", str(letter)))  # its public title is withheld when the case is marked
    ok(cli("case", "mark", "KS 2026/5", "--ground", "osl-26-1"))
    ok(cli("case", "update", "KS 2026/5", "--title", SECRET_TITLE))
    ok(cli("channel", "stop", "1", "--reason", "Kanalen läggs ned"))
    for number in range(1, 6):
        ok(cli("case", "close", f"KS 2026/{number}"))
    ok(cli("case", "open", "--title", "Fortfarande öppet"))  # KS 2026/0006 stays open
    return cli


def export(cli: Cli, standards_dir: Path, out: Path, *options: str) -> dict[str, Any]:
    return json.loads(ok(cli("export", "fgs", str(out), "--standards", str(standards_dir), "--json", *options)))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def public_texts(package: Path) -> list[str]:
    """Every value the package marks public: public titles, and all METS labels and agent names."""
    erms = etree.parse(str(package / "representations/rep1/data/erms.xml"))
    found = [e.text or "" for e in erms.iter(f"{E}otherTitle") if e.get("titleType") == "public"]
    for mets in package.rglob("METS.xml"):
        tree = etree.parse(str(mets))
        found += [e.get("LABEL", "") for e in tree.iter()] + [e.text or "" for e in tree.iter(f"{M}name")]
    return found


@pytest.mark.parametrize("version", ["3.0", "2.1"])
def test_tor_registers_export_to_an_fgs_package_that_passes_every_check(torsby: Cli, standards_dir: Path,
                                                                        tmp_path: Path, version: str) -> None:
    out = tmp_path / "torsby-2026"
    summary = export(torsby, standards_dir, out, "--erms-version", version)
    assert (summary["cases"], summary["open_cases"], summary["erms_version"]) == (5, 1, version)
    assert summary["confidential"] >= 2  # the personnummer case and its record, the social-services case
    report = json.loads(ok(torsby("validate", str(out), "--standards", str(standards_dir), "--json")))
    assert report["ok"] and report["kind"] == f"fgs-erms-{version}"
    assert [r["id"] for r in report["rules"]] == ["METS", "CSIP", "FILES", "ERMS", "ERMS-SCH", "ERMS-REQ"]

    # METS declares the ERMS version; the package carries every schema it uses
    mets = etree.parse(str(out / "METS.xml")).getroot()
    assert mets.get(CONTENT_TYPE) == VERSIONS[version].content_type and mets.get("OBJID") == "torsby-2026"
    assert sorted(p.name for p in (out / "schemas").iterdir()) == sorted(
        ["mets.xsd", "xlink.xsd", "DILCISExtensionMETS.xsd", "DILCISExtensionSIPMETS.xsd",
         VERSIONS[version].schema_file, VERSIONS[version].schematron_file])
    # every data file is listed with its size and SHA-256
    rep = etree.parse(str(out / "representations/rep1/METS.xml"))
    listed = {f.find(f"{M}FLocat").get(XLINK_HREF): f for f in rep.iter(f"{M}file")}
    data = {p.relative_to(out / "representations/rep1").as_posix()
            for p in (out / "representations/rep1/data").rglob("*") if p.is_file()}
    assert set(listed) == data
    for href, entry in listed.items():
        path = out / "representations/rep1" / href
        assert (entry.get("CHECKSUM"), entry.get("SIZE")) == (sha(path), str(path.stat().st_size))

    erms = etree.parse(str(out / "representations/rep1/data/erms.xml"))
    cases = {a.findtext(f"{E}objectId"): a for a in erms.iter(f"{E}aggregation")}
    assert sorted(cases) == [f"KS 2026/{n:04d}" for n in range(1, 6)]  # the open case is not in it
    assert {a.get("aggregationType") for a in cases.values()} == {"caseFile"}
    # secrecy: the OSL provision on the marked cases and their records (OSL 5 kap. 5 §)
    regulations = {number: [r.findtext(f"{E}regulation") for r in a.findall(f"{E}restriction")]
                   for number, a in cases.items()}
    assert regulations["KS 2026/0003"] == ["OSL 21 kap. 3 §"] and regulations["KS 2026/0005"] == ["OSL 26 kap. 1 §"]
    assert all(r.get("restrictionType") == "confidential" for r in erms.iter(f"{E}restriction"))
    # the removal with its evidence, the channel case with its plan and snapshot, as files in the package
    removal = cases["KS 2026/0004"]
    assert [r.get("recordType") for r in removal.iter(f"{E}record")][:1] == ["evidence"]
    appendices = [a.get("path") for a in cases["KS 2026/0001"].iter(f"{E}appendix")]
    assert any(p.endswith(".png") for p in appendices) and any(p.endswith(".txt") for p in appendices)
    assert all((out / p).is_file() for p in appendices)
    # records: direction, running number, dates; disposal on every case and record
    directions = {r.find(f"{E}direction").get("directionDefinition") for r in erms.iter(f"{E}record")}
    assert {"incoming", "outgoing", "internal_memo_without_follow-up"} <= directions
    for unit in [*erms.iter(f"{E}aggregation"), *erms.iter(f"{E}record")]:
        assert unit.find(f"{E}disposal") is not None
        assert unit.find(f"{E}dates/{E}date[@dateType='created']") is not None
    counterparts = {number: [a.findtext(f"{E}name") for a in case.findall(f"{E}agents/{E}agent")
                             if a.get("agentType") == "counterpart"] for number, case in cases.items()}
    assert counterparts["KS 2026/0002"] == ["Anna Ström"] and counterparts["KS 2026/0005"] == ["Kalle Berg"]
    numbers = [int(r.findtext(f"{E}runningNumber")) for r in cases["KS 2026/0001"].iter(f"{E}record")]
    assert numbers == list(range(1, len(numbers) + 1))
    digital = {r.get("recordPhysicalOrDigital") for r in erms.iter(f"{E}record")}
    assert digital == {VERSIONS[version].digital}
    # nothing confidential in any field marked public
    public = " ".join(public_texts(out))
    assert SECRET_TITLE not in public and PERSONNUMMER not in public and "Kalle" not in public
    assert SECRET_TITLE in erms.getroot().findtext(f".//{E}aggregation[{E}objectId='KS 2026/0005']/{E}title")


def test_the_zip_holds_the_package_folder_and_validates(torsby: Cli, standards_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "torsby-2026.zip"
    summary = export(torsby, standards_dir, archive, "--zip")
    assert summary["zip_sha256"] == sha(archive)
    with zipfile.ZipFile(archive) as package:
        names = package.namelist()
    assert "torsby-2026/METS.xml" in names and all(n.startswith("torsby-2026/") for n in names)
    assert "all rules pass" in ok(torsby("validate", str(archive), "--standards", str(standards_dir)))
    exports = json.loads(ok(torsby("audit", "log", "--action", "archive.export", "--json")))
    assert [(e["actor"], e["ref"].split()[0]) for e in exports] == [("anna", "fgs")]  # the read of it all, audited
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_failures_name_the_problem_and_leave_nothing_behind(torsby: Cli, standards_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    nothing = torsby("export", "fgs", str(tmp_path / "x"), "--standards", str(standards_dir),
                     "--period-start", "2001-01-01", "--period-end", "2001-12-31")
    assert nothing.exit_code == 1 and "no case was closed between 2001-01-01 and 2001-12-31" in nothing.stderr
    incomplete = tmp_path / "standards"
    (incomplete / "csip").mkdir(parents=True)
    result = torsby("export", "fgs", str(tmp_path / "y"), "--standards", str(incomplete))
    assert result.exit_code == 1 and "mets.xsd" in result.stderr and "DILCIS" not in result.stdout

    def broken(self: FgsExport, work: Path) -> None:
        raise ConfigError("the package does not validate: FILES; (simulated)")

    monkeypatch.setattr(fgs.FgsExport, "_validate", broken)
    for options in ((), ("--zip",)):
        result = torsby("export", "fgs", str(tmp_path / "z"), "--standards", str(standards_dir), *options)
        assert result.exit_code == 1 and "does not validate" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".x", ".y", ".z", "x", "y", "z"))) == []


def test_a_norwegian_register_is_not_packaged_as_fgs(no: RegisterService, standards_dir: Path) -> None:
    with pytest.raises(Exception, match="FGS package is for a Swedish register"):
        FgsExport(no, Standards(standards_dir), VERSIONS["3.0"])


def test_an_unknown_erms_version_is_refused(torsby: Cli, standards_dir: Path, tmp_path: Path) -> None:
    result = torsby("export", "fgs", str(tmp_path / "p"), "--erms-version", "1.0", "--standards", str(standards_dir))
    assert result.exit_code == 2 and "'1.0' is not one of" in result.stderr


def test_streaming_in_small_batches_gives_the_same_package(torsby: Cli, standards_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    export(torsby, standards_dir, tmp_path / "one")
    monkeypatch.setattr(FgsExport, "batch", 2)  # many partitions, as in a large register
    export(torsby, standards_dir, tmp_path / "many")

    def ids(folder: Path) -> list[str | None]:
        tree = etree.parse(str(folder / "representations/rep1/data/erms.xml"))
        return [e.get("systemIdentifier") for e in tree.iter() if e.get("systemIdentifier")]

    assert ids(tmp_path / "one") == ids(tmp_path / "many") and len(ids(tmp_path / "one")) > 10


def test_only_registrars_archivists_and_admins_export(torsby: Cli, standards_dir: Path, tmp_path: Path) -> None:
    ok(torsby("users", "add", "erik", "--role", "officer"))
    refused = torsby("export", "fgs", str(tmp_path / "p"), "--standards", str(standards_dir), user="erik")
    assert refused.exit_code == 1 and "may not archive.export" in refused.stderr and not (tmp_path / "p").exists()
    refused = torsby("export", "noark5", str(tmp_path / "n"), "--standards", str(standards_dir), user="erik")
    assert refused.exit_code == 1 and "may not archive.export" in refused.stderr


def test_the_policy_may_send_open_cases_too(cli: Cli, standards_dir: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text((REPO / "fixtures" / "policies" / "torsby.toml").read_text(encoding="utf-8")
                      + "\n[archive]\ninclude_open_cases = true\n", encoding="utf-8")
    ok(cli("init", "--name", "Torsby kommun", "--policy", str(policy)))
    ok(cli("case", "open", "--title", "Pågående ärende"))
    ok(cli("record", "add", "KS 2026/1", "--direction", "in", "--description", "Fråga", "--from", "Per Persson"))
    ok(cli("case", "open", "--title", "Avslutat ärende"))
    ok(cli("case", "close", "KS 2026/2"))
    summary = export(cli, standards_dir, tmp_path / "paket")
    assert (summary["cases"], summary["open_cases"]) == (2, 0)
    erms = etree.parse(str(tmp_path / "paket" / "representations/rep1/data/erms.xml"))
    status = {a.findtext(f"{E}objectId"): a.find(f"{E}status").get("value") for a in erms.iter(f"{E}aggregation")}
    assert status == {"KS 2026/0001": "open", "KS 2026/0002": "closed"}
