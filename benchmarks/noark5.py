"""Benchmark: Noark 5 extraction and validation at 100,000 and 1,000,000 journal posts.

A Norwegian register is filled with a fast bulk generator (closed cases with
five journal posts each, a correspondent per post, and a small text document
for every 50th post). Then, each in a fresh process so its peak RSS is its own:

* export: ``NoarkExport.run(check=False)`` (the writer alone), against a floor
  of ``lxml.etree.xmlfile`` writing the same elements from memory, no database;
* validate: ``NoarkValidator.validate`` (XSD and every Arkade rule), against
  ``xmllint --stream --schema arkivstruktur.xsd`` on the same arkivstruktur.xml.

Run:  python benchmarks/noark5.py [--posts 1000000] [--standards DIR]
Targets (issue 5): export within 2x of the floor, validation within 2x of
xmllint, both under 300 MB peak RSS, not growing between 100,000 and 1,000,000 posts.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _children import in_process, peak_mb, print_table, print_targets
from _register import POSTS_PER_CASE, build


def run_export(url: str, files: str, standards: str, out: str, results: mp.Queue) -> None:
    os.environ["SMCASE_FILES"] = files
    from smcase.db import make_engine
    from smcase.export.noark5 import NoarkExport
    from smcase.register import RegisterService
    from smcase.standards import Standards
    from smcase.store import FileStore

    engine = make_engine(url)
    service = RegisterService.open(engine, user="bench", files=FileStore(Path(files)))
    begin = time.perf_counter()
    NoarkExport(service, Standards(Path(standards))).run(Path(out), check=False)
    results.put((time.perf_counter() - begin, peak_mb()))


def run_validate(standards: str, out: str, results: mp.Queue) -> None:
    from smcase.standards import Standards
    from smcase.validate.noark5 import NoarkValidator

    begin = time.perf_counter()
    report = NoarkValidator(Standards(Path(standards))).validate(Path(out))
    elapsed = time.perf_counter() - begin
    results.put((elapsed, peak_mb(), report.failed()))


def run_floor(cases: int, out: str, results: mp.Queue) -> None:
    """lxml xmlfile writing the same files (arkivstruktur, both journals, change log) from memory: no database."""
    from lxml import etree

    ns = "http://www.arkivverket.no/standarder/noark5/arkivstruktur"
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    now = datetime(2026, 1, 5, 8, 0, tzinfo=UTC).isoformat()
    rows = [(str(uuid.uuid4()), n, [(str(uuid.uuid4()), k) for k in range(1, POSTS_PER_CASE + 1)])
            for n in range(1, cases + 1)]
    begin = time.perf_counter()
    with etree.xmlfile(out, encoding="utf-8") as xf, xf.element(f"{{{ns}}}arkiv", nsmap={None: ns, "xsi": xsi}):
        for case_id, n, posts in rows:
            folder = etree.Element(f"{{{ns}}}mappe", {f"{{{xsi}}}type": "saksmappe"}, nsmap={None: ns, "xsi": xsi})
            for name, value in (("systemID", case_id), ("mappeID", f"2026/{n}"), ("tittel", f"Henvendelse {n}"),
                                ("opprettetDato", now), ("opprettetAv", "bench"), ("avsluttetDato", now),
                                ("avsluttetAv", "bench")):
                etree.SubElement(folder, f"{{{ns}}}{name}").text = value
            for post_id, k in posts:
                post = etree.SubElement(folder, f"{{{ns}}}registrering", {f"{{{xsi}}}type": "journalpost"})
                for name, value in (("systemID", post_id), ("opprettetDato", now), ("opprettetAv", "bench"),
                                    ("arkivertDato", now), ("arkivertAv", "bench"), ("tittel", f"Kommentar {k}"),
                                    ("journalaar", "2026"), ("journalsekvensnummer", str(n * 10 + k)),
                                    ("journalpostnummer", str(k)), ("journalposttype", "Inngående dokument"),
                                    ("journalstatus", "Arkivert"), ("journaldato", "2026-01-05")):
                    etree.SubElement(post, f"{{{ns}}}{name}").text = value
                party = etree.SubElement(post, f"{{{ns}}}korrespondansepart")
                etree.SubElement(party, f"{{{ns}}}korrespondanseparttype").text = "Avsender"
                etree.SubElement(party, f"{{{ns}}}korrespondansepartNavn").text = f"Innbygger {n}"
            for name, value in (("saksaar", "2026"), ("sakssekvensnummer", str(n)), ("saksdato", "2026-01-05"),
                                ("administrativEnhet", "Servicetorget"), ("saksansvarlig", "bench"),
                                ("saksstatus", "Avsluttet")):
                etree.SubElement(folder, f"{{{ns}}}{name}").text = value
            xf.write(folder, pretty_print=True)
    for journal in ("loependeJournal", "offentligJournal"):
        jns = f"http://www.arkivverket.no/standarder/noark5/{journal}"
        with etree.xmlfile(out + f".{journal}", encoding="utf-8") as xf, xf.element(f"{{{jns}}}{journal}",
                                                                                    nsmap={None: jns}):
            for _case_id, n, posts in rows:
                for post_id, k in posts:
                    entry = etree.Element(f"{{{jns}}}journalregistrering", nsmap={None: jns})
                    klasse = etree.SubElement(entry, f"{{{jns}}}klasse")
                    etree.SubElement(klasse, f"{{{jns}}}klasseID").text = "070"
                    etree.SubElement(klasse, f"{{{jns}}}tittel").text = "Sosiale medier"
                    folder = etree.SubElement(entry, f"{{{jns}}}saksmappe")
                    for name, value in (("saksaar", "2026"), ("sakssekvensnummer", str(n)),
                                        ("offentligTittel", f"Henvendelse {n}")):
                        etree.SubElement(folder, f"{{{jns}}}{name}").text = value
                    post = etree.SubElement(entry, f"{{{jns}}}journalpost")
                    for name, value in (("systemID", post_id), ("journalaar", "2026"),
                                        ("journalsekvensnummer", str(n * 10 + k)), ("journalpostnummer", str(k)),
                                        ("offentligTittel", f"Kommentar {k}"), ("journaldato", "2026-01-05")):
                        etree.SubElement(post, f"{{{jns}}}{name}").text = value
                    party = etree.SubElement(post, f"{{{jns}}}korrespondansepart")
                    etree.SubElement(party, f"{{{jns}}}korrespondanseparttype").text = "Avsender"
                    etree.SubElement(party, f"{{{jns}}}korrespondansepartNavn").text = f"Innbygger {n}"
                    xf.write(entry, pretty_print=True)
    lns = "http://www.arkivverket.no/standarder/noark5/endringslogg"
    with etree.xmlfile(out + ".endringslogg", encoding="utf-8") as xf, xf.element(f"{{{lns}}}endringslogg",
                                                                                  nsmap={None: lns}):
        for case_id, _n, _posts in rows:
            change = etree.Element(f"{{{lns}}}endring", nsmap={None: lns})
            for name, value in (("referanseArkivenhet", case_id), ("referanseMetadata", "saksstatus"),
                                ("endretDato", now), ("endretAv", "bench"), ("tidligereVerdi", "Under behandling"),
                                ("nyVerdi", "Avsluttet")):
                etree.SubElement(change, f"{{{lns}}}{name}").text = value
            xf.write(change, pretty_print=True)
    results.put((time.perf_counter() - begin, peak_mb()))


def measure(posts: int, standards: Path) -> dict[str, Any]:
    cases = posts // POSTS_PER_CASE
    folder = Path(tempfile.mkdtemp(prefix="smcase-bench-noark-"))
    try:
        url, files, out = f"sqlite:///{folder / 'smcase.db'}", folder / "files", folder / "uttrekk"
        begin = time.perf_counter()
        build(url, files, cases, "NO")
        built = time.perf_counter() - begin
        export_s, export_mb = in_process(run_export, url, str(files), str(standards), str(out))
        size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
        struct_mb = (out / "arkivstruktur.xml").stat().st_size / 1e6
        floor_s, _floor_mb = in_process(run_floor, cases, str(folder / "floor.xml"))
        validate_s, validate_mb, failed = in_process(run_validate, str(standards), str(out))
        begin = time.perf_counter()
        lint = subprocess.run(["xmllint", "--stream", "--noout", "--schema", str(out / "arkivstruktur.xsd"),
                               str(out / "arkivstruktur.xml")], capture_output=True, text=True)
        xmllint_s = time.perf_counter() - begin
        return {"posts": posts, "built": built, "export_s": export_s, "export_mb": export_mb, "size_mb": size_mb,
                "struct_mb": struct_mb, "floor_s": floor_s, "validate_s": validate_s, "validate_mb": validate_mb,
                "failed": failed, "xmllint_s": xmllint_s, "xmllint_ok": lint.returncode == 0}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000, help="journal posts in the largest run")
    parser.add_argument("--standards", default=os.environ.get("SMCASE_STANDARDS", "../shared/standards"))
    args = parser.parse_args()
    if not shutil.which("xmllint"):
        raise SystemExit("xmllint is missing: install Debian's libxml2-utils")
    standards = Path(args.standards)
    rows = [measure(n, standards) for n in sorted({max(10_000, args.posts // 10), args.posts})]
    print_table(rows, "posts", "arkivstruktur.xml", "struct_mb")
    big, small = rows[-1], rows[0]
    checks = {
        "export within 2x of the floor": big["export_s"] <= 2 * big["floor_s"],
        "export under 300 MB": big["export_mb"] < 300,
        "export memory flat (within 10%)": big["export_mb"] <= 1.1 * small["export_mb"],
        "validation within 2x of xmllint": big["validate_s"] <= 2 * big["xmllint_s"],
        "validation under 300 MB": big["validate_mb"] < 300,
    }
    print_targets(checks)

if __name__ == "__main__":
    main()
