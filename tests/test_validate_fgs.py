"""``smcase validate`` on FGS packages and ERMS files: a valid package passes; one broken copy per rule family fails it."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from smcase.fgs import VERSIONS
from smcase.standards import Standards
from smcase.validate import validate
from smcase.validate.fgs import RULES, FgsValidator

from .conftest import REPO, Cli

ERMS_FILE = "representations/rep1/data/erms.xml"
REP_METS = "representations/rep1/METS.xml"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, standards_dir: Path) -> Path:
    """A valid FGS package of a small Swedish register (ingested posts, a marked case, a document)."""
    folder = tmp_path_factory.mktemp("fgs")
    cli = Cli(f"sqlite:///{folder / 'smcase.db'}", folder / "files")
    steps = [("init", "--name", "Torsby kommun", "--org-number", "212000-1785", "--policy",
              str(REPO / "fixtures" / "policies" / "torsby.toml")),
             ("ingest", str(REPO / "fixtures" / "events" / "torsby-facebook.jsonl"), "--format", "jsonl"),
             ("case", "close", "KS 2026/1"), ("case", "close", "KS 2026/2"), ("case", "close", "KS 2026/3"),
             ("export", "fgs", str(folder / "package"), "--standards", str(standards_dir))]
    for step in steps:
        result = cli(*step)
        assert result.exit_code == 0, result.stderr
    return folder / "package"


@pytest.fixture
def broken(package: Path, tmp_path: Path) -> Callable[[Callable[[Path], None]], Path]:
    """A copy of the valid package, changed by the given function."""
    def make(change: Callable[[Path], None]) -> Path:
        copy = tmp_path / "package"
        shutil.copytree(package, copy)
        change(copy)
        return copy
    return make


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def relist(package: Path, name: str = ERMS_FILE) -> None:
    """Update a data file's size and checksum in the representation METS, so only the intended rule fails."""
    path = package / name
    mets = package / REP_METS
    tree = etree.parse(str(mets))
    href = name.removeprefix("representations/rep1/")
    for location in tree.iter("{http://www.loc.gov/METS/}FLocat"):
        if location.get("{http://www.w3.org/1999/xlink}href") == href:
            entry = location.getparent()
            entry.set("SIZE", str(path.stat().st_size))
            entry.set("CHECKSUM", hashlib.sha256(path.read_bytes()).hexdigest())
    tree.write(str(mets), encoding="utf-8", xml_declaration=True)
    root = etree.parse(str(package / "METS.xml"))
    for location in root.iter("{http://www.loc.gov/METS/}FLocat"):
        if location.get("{http://www.w3.org/1999/xlink}href") == REP_METS:
            location.getparent().set("SIZE", str(mets.stat().st_size))
            location.getparent().set("CHECKSUM", hashlib.sha256(mets.read_bytes()).hexdigest())
    root.write(str(package / "METS.xml"), encoding="utf-8", xml_declaration=True)


def failed(path: Path, standards_dir: Path) -> dict[str, list[str]]:
    report = FgsValidator(Standards(standards_dir)).validate(path)
    return {rule.id: rule.errors for rule in report.rules if not rule.ok}


def test_a_valid_package_passes_every_rule_family(package: Path, standards_dir: Path) -> None:
    report = validate(package, Standards(standards_dir))
    assert report.ok and report.kind == "fgs-erms-3.0"
    assert [r.id for r in report.rules] == [rule_id for rule_id, _ in RULES]


def test_mets_schema_with_the_csip_extension_catches_a_bad_package_type(broken: Callable[..., Path],
                                                                        standards_dir: Path) -> None:
    package = broken(lambda p: edit(p / "METS.xml", 'csip:OAISPACKAGETYPE="SIP"', 'csip:OAISPACKAGETYPE="BOGUS"'))
    errors = failed(package, standards_dir)
    assert "METS" in errors and "BOGUS" in errors["METS"][0] and re.search(r"METS.xml after line \d+", errors["METS"][0])


def test_csip_requirements_are_named(broken: Callable[..., Path], standards_dir: Path) -> None:
    def change(p: Path) -> None:
        edit(p / "METS.xml", 'TYPE="Datasets"', 'TYPE="Dataset"')  # the CITS text's spelling, not the vocabulary's
        edit(p / "METS.xml", ' PROFILE="https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"', "")
        edit(p / "METS.xml", 'OTHERTYPE="SOFTWARE"', 'OTHERTYPE="TOOL"')
    errors = failed(broken(change), standards_dir)
    assert set(errors) == {"CSIP"}
    text = " ".join(errors["CSIP"])
    assert "(CSIP2)" in text and "(SIP2)" in text and "(CSIP10)" in text


def test_csip_structmap_must_point_to_the_representation(broken: Callable[..., Path], standards_dir: Path) -> None:
    package = broken(lambda p: edit(p / "METS.xml", 'LABEL="Representations/rep1"', 'LABEL="rep1"'))
    assert "no division labelled Representations/rep1 (CSIP107)" in " ".join(failed(package, standards_dir)["CSIP"])


@pytest.mark.parametrize("change, message", [
    (lambda p: (p / "representations/rep1/data/extra.txt").write_text("not listed"), "no METS document lists it"),
    (lambda p: next((p / "representations/rep1/data/documents").iterdir()).write_text("changed"), "SHA-256"),
    (lambda p: next((p / "representations/rep1/data/documents").iterdir()).unlink(), "listed"),
])
def test_files_must_match_the_file_section(broken: Callable[..., Path], standards_dir: Path,
                                           change: Callable[[Path], None], message: str) -> None:
    errors = failed(broken(change), standards_dir)
    assert "FILES" in errors and message in " ".join(errors["FILES"])


def test_erms_schema_errors_give_the_line(broken: Callable[..., Path], standards_dir: Path) -> None:
    def change(p: Path) -> None:
        edit(p / ERMS_FILE, '<status value="closed"/>', '<status value="finished"/>')
        relist(p)
    package = broken(change)
    errors = failed(package, standards_dir)
    assert set(errors) == {"ERMS"} and "finished" in errors["ERMS"][0]
    reported = re.search(r"after line (\d+)", errors["ERMS"][0])
    text = (package / ERMS_FILE).read_text(encoding="utf-8")
    actual = text[:text.index('value="finished"')].count("\n") + 1
    assert reported and 0 < int(reported[1]) <= actual, (reported, actual)  # the element named, the line before it


def test_erms_schematron_rules_run_while_streaming(broken: Callable[..., Path], standards_dir: Path) -> None:
    def change(p: Path) -> None:
        edit(p / ERMS_FILE, 'directionDefinition="incoming"', 'directionDefinition="other"')
        relist(p)
    errors = failed(broken(change), standards_dir)
    assert set(errors) == {"ERMS-SCH"} and "otherDirectionDefinition" in errors["ERMS-SCH"][0]


def test_erms_requirements_beyond_the_schema(broken: Callable[..., Path], standards_dir: Path) -> None:
    def change(p: Path) -> None:
        text = (p / ERMS_FILE).read_text(encoding="utf-8")
        first = re.search(r'<record systemIdentifier="([^"]+)"', text)
        second = re.findall(r'<record systemIdentifier="([^"]+)"', text)[1]
        assert first
        text = text.replace(second, first[1])  # a duplicate system identifier
        text = re.sub(r'<date dateType="created">[^<]*</date>', "", text, count=1)  # ERMS204
        (p / ERMS_FILE).write_text(text, encoding="utf-8")
        relist(p)
    errors = " ".join(failed(broken(change), standards_dir)["ERMS-REQ"])
    assert "is used more than once" in errors and "(ERMS204)" in errors


def test_an_erms_version_that_does_not_match_the_declared_one_fails(broken: Callable[..., Path],
                                                                    standards_dir: Path) -> None:
    def change(p: Path) -> None:
        for name in ("METS.xml", REP_METS):
            edit(p / name, "citserms_v3_0", "citserms_v2_1", count=5)
        relist(p)
    errors = failed(broken(change), standards_dir)
    assert "ERMS" in errors and "CSIP" not in errors


@pytest.mark.parametrize("name", ["svkgs-arendehandlingar-exempel.xml", "cits-erms-2.1.0-generated-example.xml"])
def test_the_public_erms_examples_are_valid_21_and_not_30(standards_dir: Path, name: str) -> None:
    example = standards_dir / "erms" / "examples" / name
    standards = Standards(standards_dir)
    as_21 = FgsValidator(standards).validate(example, VERSIONS["2.1"])
    assert as_21.kind == "erms-2.1" and {r.id: r.ok for r in as_21.rules}["ERMS"]
    as_30 = FgsValidator(standards).validate(example, VERSIONS["3.0"])
    assert "ERMS" in as_30.failed()


def test_the_cli_reports_per_rule_and_needs_a_version_for_a_bare_file(package: Path, standards_dir: Path,
                                                                      cli: Cli, broken: Callable[..., Path]) -> None:
    erms = package / ERMS_FILE
    bare = cli("validate", str(erms), "--standards", str(standards_dir))
    assert bare.exit_code == 1 and "--erms-version" in bare.stderr
    report = json.loads(cli("validate", str(erms), "--erms-version", "3.0", "--standards", str(standards_dir),
                            "--json").stdout)
    assert report["ok"] and [r["id"] for r in report["rules"]] == ["ERMS", "ERMS-SCH", "ERMS-REQ"]
    damaged = broken(lambda p: (p / "representations/rep1/data/extra.txt").write_text("x"))
    result = cli("validate", str(damaged), "--standards", str(standards_dir))
    assert result.exit_code == 1 and "FILES     ERROR" in result.stdout and "errors in FILES" in result.stdout


def test_a_file_that_is_not_xml_is_named_with_its_line(standards_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "erms.xml"
    broken.write_text('<erms xmlns="https://DILCIS.eu/XML/ERMS">\n<control>\n</erms>\n', encoding="utf-8")
    report = FgsValidator(Standards(standards_dir)).validate(broken, VERSIONS["3.0"])
    (error,) = next(r for r in report.rules if r.id == "ERMS").errors
    assert error.startswith("erms.xml not well-formed, line 3: Opening and ending tag mismatch"), error


def test_csip62_a_representation_file_group_declares_its_content_type(broken: Callable[..., Path],
                                                                      standards_dir: Path) -> None:
    # issue 13: the E-ARK consortium's validator found this missing from smcase's own packages
    assert 'USE="Representations/rep1" csip:CONTENTINFORMATIONTYPE="citserms_v3_0"' in (
        package_dir := broken(lambda p: None)).joinpath("METS.xml").read_text(encoding="utf-8")
    shutil.rmtree(package_dir)
    package = broken(lambda p: edit(p / "METS.xml", 'USE="Representations/rep1" csip:CONTENTINFORMATIONTYPE='
                                                    '"citserms_v3_0"', 'USE="Representations/rep1"'))
    assert "(CSIP62)" in " ".join(failed(package, standards_dir)["CSIP"])


@pytest.mark.parametrize(("mimetype", "message"), [
    ("bogus", "is not a media type"), ("foo/bar", "no registered top-level type"),
    ("image/png", "declared image/png but its bytes are"), ("application/pdf", "declared application/pdf"),
])
def test_csip68_the_declared_media_type_must_fit_the_file(broken: Callable[..., Path], standards_dir: Path,
                                                          mimetype: str, message: str) -> None:
    def change(p: Path) -> None:
        text = (p / REP_METS).read_text(encoding="utf-8")
        assert 'MIMETYPE="text/plain"' in text  # the captured posts are text
        (p / REP_METS).write_text(text.replace('MIMETYPE="text/plain"', f'MIMETYPE="{mimetype}"', 1),
                                  encoding="utf-8")
        relist(p)
    errors = failed(broken(change), standards_dir)
    assert message in " ".join(errors["CSIP"]), errors


def test_csip68_text_declared_for_binary_bytes_is_a_warning(broken: Callable[..., Path], standards_dir: Path) -> None:
    def change(p: Path) -> None:
        document = next((p / "representations/rep1/data/documents").iterdir())
        document.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
        relist(p, str(document.relative_to(p)))
    report = validate(broken(change), Standards(standards_dir))
    csip = next(r for r in report.rules if r.id == "CSIP")
    assert csip.ok and any("image/png" in w for w in csip.warnings)


def test_the_created_date_rule_applies_only_to_erms_30(standards_dir: Path) -> None:
    # ERMS135/ERMS204 come from the 3.0 tables: the public 2.1 example passes every 2.1 rule
    example = standards_dir / "erms" / "examples" / "cits-erms-2.1.0-generated-example.xml"
    report = FgsValidator(Standards(standards_dir)).validate(example, VERSIONS["2.1"])
    assert report.ok, report.failed()


def test_zip_is_added_to_the_name_when_missing(cli: Cli, standards_dir: Path, tmp_path: Path) -> None:
    assert cli("init", "--name", "Torsby kommun", "--country", "SE").exit_code == 0
    assert cli("case", "open", "--title", "Synpunkt").exit_code == 0
    assert cli("case", "close", "KS 2026/1").exit_code == 0
    result = cli("export", "fgs", str(tmp_path / "paket"), "--zip", "--standards", str(standards_dir))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "paket.zip").is_file() and str(tmp_path / "paket.zip") in result.stdout
    assert cli("validate", str(tmp_path / "paket.zip"), "--standards", str(standards_dir)).exit_code == 0


@pytest.mark.parametrize("spelling", ['directionDefinition="oth&#101;r"', "directionDefinition='other'"])
def test_the_schematron_sieve_misses_no_spelling_of_a_value(broken: Callable[..., Path], standards_dir: Path,
                                                             spelling: str) -> None:
    # the rules run only on units after a line where the bytes could spell a rule's value: a character
    # reference or the other quote must still reach them
    def change(p: Path) -> None:
        edit(p / ERMS_FILE, 'directionDefinition="incoming"', spelling)
        relist(p)
    errors = failed(broken(change), standards_dir)
    assert set(errors) == {"ERMS-SCH"} and "otherDirectionDefinition" in errors["ERMS-SCH"][0]


def test_the_sieve_finds_a_literal_cut_by_a_read(tmp_path: Path) -> None:
    from smcase.validate.erms import Sieve

    path = tmp_path / "erms.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="utf-8"?>\n<a>\n<b x="ot' + b'her"/>\n</a>\n')
    sieve = Sieve(path, (b'"other',))
    while sieve.read(7):
        pass
    sieve.close()
    assert sieve.hit == 3
    utf16 = tmp_path / "utf16.xml"
    utf16.write_bytes('<?xml version="1.0" encoding="utf-16"?><a/>'.encode("utf-16"))
    unsieved = Sieve(utf16, (b"\"other",))
    unsieved.close()
    assert unsieved.hit > 1 << 60  # not sieved: every unit is checked


def test_the_sieve_notes_the_last_line_of_a_literal_whatever_the_reads(tmp_path: Path) -> None:
    # long quoted values are looked for bare, their quote checked; lines are counted only where one is found
    import random

    from smcase.validate.erms import Sieve

    literals = (b'"other', b"'other", b'"own_aggregation_definition', b"'own_aggregation_definition")
    pieces = [b"<a>\n", b'<b x="y"/>\n', b"<c>own_aggregation_definition</c>\n", b'<d t="other"/>\n',
              b"<e t='own_aggregation_definition'/>\n", b'<f t="own_aggregation_definition"/>\n', b"plain text\n",
              b"&amp;\n"]
    rng = random.Random(7)
    for round_ in range(60):
        lines = [rng.choice(pieces[:3] + pieces[6:7]) for _ in range(rng.randint(1, 400))]
        for _ in range(rng.randint(0, 3)):
            lines.insert(rng.randint(0, len(lines)), rng.choice(pieces))
        text = b'<?xml version="1.0" encoding="utf-8"?>\n<r>\n' + b"".join(lines) + b"</r>\n"
        expected = max((n for n, line in enumerate(text.split(b"\n"), start=1)
                        if any(lit in line for lit in (*literals, b"&"))), default=0)
        path = tmp_path / f"e{round_}.xml"
        path.write_bytes(text)
        sieve = Sieve(path, literals)
        size = rng.choice([1, 5, 29, 64, 4096])
        while sieve.read(size):
            pass
        sieve.close()
        assert sieve.hit == expected, (round_, size)


def test_a_mets_schema_error_still_checks_every_file_entry_once(broken: Callable[..., Path],
                                                                standards_dir: Path) -> None:
    # METS is read once with its schema; one the schema stops is read again without it, the first try undone
    def change(p: Path) -> None:
        text = (p / REP_METS).read_text(encoding="utf-8")
        text = text.replace('CHECKSUMTYPE="SHA-256"', 'CHECKSUMTYPE="SHA-256" BOGUS="1"', 1)  # the schema stops here
        text = re.sub(r' CREATED="[^"]*"', "", text)  # every entry: CSIP70, after the schema error
        (p / REP_METS).write_text(text, encoding="utf-8")
        relist(p, REP_METS)
    errors = failed(broken(change), standards_dir)
    assert "BOGUS" in errors["METS"][0] and "listed twice" not in " ".join(errors.get("FILES", []))
    missing = [e for e in errors["CSIP"] if "CSIP70" in e]
    assert len(missing) == len(set(missing)) > 0
