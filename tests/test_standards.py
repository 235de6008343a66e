"""The official schemas: found through --standards / SMCASE_STANDARDS and loaded offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from smcase.cli import create_cli
from smcase.errors import ConfigError
from smcase.standards import ENV, OFFICIAL, Standards

from .conftest import REPO, shared_folder


@pytest.fixture(scope="module")
def standards() -> Standards:
    return Standards(shared_folder(ENV, REPO.parent / "shared" / "standards"))


@pytest.fixture(scope="module")
def samples() -> Path:
    return shared_folder("SMCASE_SHARED", REPO.parent / "shared") / "samples"


def test_every_official_schema_loads_offline(standards: Standards) -> None:
    problems = [(o.path, p) for o, p in standards.check() if p]
    assert problems == []


def stream_validate(path: Path, schema: etree.XMLSchema) -> int:
    count = 0
    for _event, element in etree.iterparse(str(path), schema=schema, events=("end",)):
        count += 1
        element.clear()  # flat memory: nothing is kept behind the cursor
    return count


def test_the_constructed_noark_extraction_validates_while_streaming(standards: Standards, samples: Path) -> None:
    extraction = samples / "noark5-v5.0-constructed" / "constructed-v5_0"
    for name, key in (("arkivstruktur.xml", "noark5/arkivstruktur"), ("endringslogg.xml", "noark5/endringslogg"),
                      ("loependeJournal.xml", "noark5/loependeJournal"),
                      ("offentligJournal.xml", "noark5/offentligJournal"), ("arkivuttrekk.xml", "noark5/addml")):
        assert stream_validate(extraction / name, standards.schema(key)) > 10, name


def test_a_broken_extraction_fails_naming_the_element(standards: Standards, samples: Path, tmp_path: Path) -> None:
    # Streaming validation reports the element, not the line (libxml2 gives iterparse no line number),
    # so the Noark validator will report element paths.
    source = samples / "noark5-v5.0-constructed" / "constructed-v5_0" / "arkivstruktur.xml"
    broken = tmp_path / "arkivstruktur.xml"
    text = source.read_text(encoding="utf-8")
    start = text.index("<opprettetAv>")
    broken.write_text(text[:start] + text[text.index("</opprettetAv>", start) + len("</opprettetAv>"):],
                      encoding="utf-8")
    with pytest.raises(etree.XMLSyntaxError) as caught:
        stream_validate(broken, standards.schema("noark5/arkivstruktur"))
    assert "Expected is ( {http://www.arkivverket.no/standarder/noark5/arkivstruktur}opprettetAv )" in str(caught.value)


def test_csip_attributes_are_only_checked_by_the_combined_schema(standards: Standards) -> None:
    mets = ('<mets:mets xmlns:mets="http://www.loc.gov/METS/" '
            'xmlns:csip="https://DILCIS.eu/XML/METS/CSIPExtensionMETS" OBJID="x" csip:OAISPACKAGETYPE="{}">'
            '<mets:structMap><mets:div/></mets:structMap></mets:mets>')
    bogus = etree.fromstring(mets.format("BOGUS").encode())
    assert standards.schema("csip/mets").validate(bogus)  # the trap: plain METS lets any csip: value through
    assert not standards.mets_with_extensions().validate(bogus)
    assert standards.mets_with_extensions().validate(etree.fromstring(mets.format("SIP").encode()))


def test_the_erms_examples_are_valid_for_2_1_and_not_for_3_0(standards: Standards) -> None:
    examples = standards.root / "erms" / "examples"
    files = sorted(examples.glob("*.xml"))
    assert files
    for path in files:
        document = etree.parse(str(path), standards.parser)
        assert standards.schema("erms/v2_1").validate(document), path.name
        assert not standards.schema("erms/v3").validate(document), path.name


def test_a_missing_folder_or_file_says_what_and_where_it_is_published(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ConfigError, match="give --standards DIR or set SMCASE_STANDARDS"):
        Standards.from_option()
    (tmp_path / "noark5").mkdir()
    with pytest.raises(ConfigError, match=r"Noark 5 v5.0 arkivstruktur is missing: .*published by Arkivverket"):
        Standards.from_option(tmp_path).schema("noark5/arkivstruktur")


def test_standards_check_command(standards: Standards, tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(create_cli(), ["standards", "check", "--standards", str(standards.root)])
    assert good.exit_code == 0 and good.stdout.count(": OK") == len(OFFICIAL)
    partial = tmp_path / "standards"
    shutil.copytree(standards.root / "noark5", partial / "noark5")
    bad = runner.invoke(create_cli(), ["standards", "check", "--standards", str(partial), "--json"])
    assert bad.exit_code == 1
    assert '"file": "csip/mets.xsd"' in bad.stdout and "Library of Congress" in bad.stdout
