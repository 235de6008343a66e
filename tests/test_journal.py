"""The public journal (RAT-9, TOR-9, NOR-7, REN-5, 'Across all five'): what was registered, never what is secret."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from stdnum import luhn

from smcase.export.journal import PublicJournal
from smcase.register import CaseSpec, Party, RecordSpec, RegisterService
from smcase.standards import Standards

from .conftest import REPO, Cli

FNR = "01010012356"


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def norwegian(cli: Cli) -> Cli:
    """Rennebu's register: a complaint answered on Facebook, a post with a fødselsnummer, a letter, a marked case."""
    ok(cli("init", "--name", "Rennebu kommune", "--org-number", "964903123", "--policy",
           str(REPO / "fixtures" / "policies" / "rennebu.toml")))
    feed = [{"id": "c1", "kind": "comment", "direction": "in", "author": {"name": "Ola Nordmann"},
             "text": "Hvorfor er fortauet ikke brøytet?"},
            {"id": "r1", "kind": "comment", "direction": "out", "in_reply_to": "c1", "text": "Brøytebilen kommer nå."},
            {"id": "c2", "kind": "comment", "direction": "in", "author": {"name": "Kari Hansen"},
             "text": f"Fødselsnummeret mitt er {FNR}"}]
    lines = "".join(json.dumps({"platform": "facebook", "created_at": "2026-03-01T10:00:00+01:00", **e}) + "\n"
                    for e in feed)
    ok(cli("ingest", "-", "--format", "jsonl", input=lines))
    ok(cli("case", "open", "--title", "Søknad om skjenkebevilling"))
    number = json.loads(ok(cli("case", "list", "--json")))[-1]["diary_number"]
    ok(cli("record", "add", number, "--direction", "in", "--description", "Søknad fra Per Hansen",
           "--from", "Per Hansen"))
    ok(cli("case", "open", "--title", "Barnevernssak for familien Berg"))
    secret = json.loads(ok(cli("case", "list", "--json")))[-1]["diary_number"]
    ok(cli("record", "add", secret, "--direction", "in", "--description", "Bekymringsmelding om familien Berg",
           "--from", "Lise Berg"))
    ok(cli("case", "mark", secret, "--ground", "offl-13"))
    return cli


def test_ren5_the_offentlig_journal_is_valid_and_withholds_what_is_secret(cli: Cli, standards_dir: Path,
                                                                          tmp_path: Path) -> None:
    register = norwegian(cli)
    out = tmp_path / "offentligJournal.xml"
    today = date.today().isoformat()
    shown = ok(register("journal", "--from", "2026-01-01", "--to", today, "--format", "xml", "--out", str(out),
                        "--standards", str(standards_dir)))
    assert "valid against offentligJournal.xsd" in shown
    schema = Standards(standards_dir).schema("noark5/offentligJournal")
    assert schema.validate(etree.parse(str(out))), schema.error_log
    text = out.read_text(encoding="utf-8")
    for secret in (FNR, "Kari Hansen", "Lise Berg", "familien Berg", "Ola Nordmann"):
        assert secret not in text, secret
    assert "*****" in text and "Per Hansen" in text  # a letter's sender is public; citizens' posts are not
    ns = "{http://www.arkivverket.no/standarder/noark5/offentligJournal}"
    tree = etree.parse(str(out))
    assert tree.findtext(f".//{ns}antallJournalposter") == str(len(tree.findall(f".//{ns}journalregistrering"))) == "5"
    assert tree.find(f".//{ns}journalpost/{ns}tittel") is None  # titles stay out, public titles go in
    # The head gives the period asked for, not the first and last registration in it.
    assert (tree.findtext(f".//{ns}journalStartDato"), tree.findtext(f".//{ns}journalSluttDato")) == ("2026-01-01",
                                                                                                    today)
    # Without --out it is printed, validated first: the same document as the file.
    printed = ok(register("journal", "--from", "2026-01-01", "--to", today, "--format", "xml",
                          "--standards", str(standards_dir)))
    assert printed == text


def test_rat9_tor9_the_postlista_in_html_and_json_masks_secrets_and_citizens(cli: Cli, tmp_path: Path) -> None:
    ok(cli("init", "--name", "Torsby kommun", "--policy", str(REPO / "fixtures" / "policies" / "torsby.toml")))
    ok(cli("ingest", str(REPO / "fixtures" / "events" / "torsby-facebook.jsonl"), "--format", "jsonl"))
    entries = json.loads(ok(cli("journal", "--from", "2026-01-01", "--to", date.today().isoformat(),
                                "--format", "json", user="anna")))
    assert [e["number"] for e in entries] == sorted(e["number"] for e in entries)  # registration order
    published = json.dumps(entries, ensure_ascii=False)
    assert "19121212-1212" not in published and "Kalle Berg" not in published and "Anna Ström" not in published
    assert "[withheld: OSL 21 kap. 3 §]" in published and "[withheld: personal data]" in published
    page = tmp_path / "postlista.html"
    ok(cli("journal", "--from", "2026-01-01", "--to", date.today().isoformat(), "--out", str(page)))
    tree = etree.parse(str(page), etree.HTMLParser())
    assert tree.find(".//table/caption") is not None and tree.find(".//th[@scope='col']") is not None
    assert "19121212-1212" not in page.read_text(encoding="utf-8")
    refused = cli("journal", "--from", "2026-01-01", "--to", "2026-12-31", "--format", "xml", "--out", "x.xml")
    assert refused.exit_code == 1 and "Norwegian offentligJournal" in refused.stderr


def test_the_policy_may_allow_citizens_names(cli: Cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text((REPO / "fixtures" / "policies" / "torsby.toml").read_text(encoding="utf-8")
                      + "\n[journal]\nshow_citizen_names = true\n", encoding="utf-8")
    ok(cli("init", "--name", "Torsby kommun", "--policy", str(policy)))
    ok(cli("ingest", str(REPO / "fixtures" / "events" / "torsby-facebook.jsonl"), "--format", "jsonl"))
    published = ok(cli("journal", "--from", "2026-01-01", "--to", date.today().isoformat(), "--format", "json"))
    assert "Anna Ström" in published and "Kalle Berg" not in published  # a marking still withholds


@st.composite
def personnummer(draw: Any) -> str:
    body = f"{draw(st.integers(0, 99)):02d}{draw(st.integers(1, 12)):02d}{draw(st.integers(1, 28)):02d}" \
           f"{draw(st.integers(0, 999)):03d}"
    return f"{body[:6]}-{body[6:]}{luhn.calc_check_digit(body)}"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=personnummer(), name=st.from_regex(r"[A-ZÅÄÖ][a-zåäö]{3,9} [A-ZÅÄÖ][a-zåäö]{3,9}", fullmatch=True),
       marked=st.booleans(), citizen=st.booleans())
def test_no_withheld_value_appears_in_any_public_output(se: RegisterService, number: str, name: str, marked: bool,
                                                        citizen: bool) -> None:
    """Registers full of identity numbers, names and secret markings: no withheld value is ever published."""
    from smcase.register import Source

    secret = f"{name} {number}"
    case = se.open_case(CaseSpec(title=f"Ärende om {secret}", public_title=f"Ärende {number}",
                                 confidential="osl-26-1" if marked else None))
    se.add_record(case.diary_number, RecordSpec(
        "incoming", f"Meddelande från {secret}" if marked or citizen else "Meddelande",
        parties=[] if citizen else [Party("sender", name)],
        source=Source(platform="facebook", external_id=number, author=name) if citizen else None))
    journal = PublicJournal(se)
    for fmt in ("json", "html"):
        out = io.StringIO()
        journal.write(fmt, date(2000, 1, 1), date(2100, 1, 1), None, out)
        published = out.getvalue()
        assert number not in published and number.replace("-", "") not in published
    # Names are withheld where they stand for a person: the counterparts of marked cases and of citizens' posts.
    mine = [e for e in journal.entries(date(2000, 1, 1), date(2100, 1, 1)) if e.case == case.diary_number]
    assert len(mine) == 1
    if marked or citizen:
        assert name not in mine[0].counterparts and mine[0].counterparts[0].startswith("[withheld: ")
    else:
        assert mine[0].counterparts == (name,)
    if marked:
        assert name not in mine[0].description and name not in mine[0].case_description


def test_the_first_user_s_full_name_given_at_init_is_what_the_journal_publishes(cli: Cli, tmp_path: Path) -> None:
    ok(cli("init", "--name", "Kommunen", "--country", "SE", "--full-name", "Anna Holm"))
    ok(cli("case", "open", "--title", "Svar"))
    ok(cli("record", "add", "KS 2026/1", "--direction", "out", "--description", "Svar", "--to", "Kalle Svensson"))
    shown = json.loads(ok(cli("journal", "--from", "2026-01-01", "--to", "2026-12-31", "--format", "json")))
    assert "anna" not in json.dumps(shown) and "Anna Holm" in json.dumps(shown, ensure_ascii=False), shown
    other = Cli(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "other-files")
    refused = other("init", "--name", "Annan", "--country", "SE", "--full-name", "Anna 19121212-1212")
    assert refused.exit_code == 1 and "a full name may not hold an identity number" in refused.stderr
    assert "1212" not in refused.stderr
