"""Benchmark: Noark 5 extraction and validation at 100,000 and 1,000,000 journal posts.

A Norwegian register is filled with a fast bulk generator (closed cases with
five journal posts each, a correspondent per post, and a small text document
for every 50th post). Then, each in a fresh process so its peak RSS is its own:

* export: ``NoarkExport.run(check=False)`` (the writer alone), against a floor
  of ``lxml.etree.xmlfile`` writing the same elements from memory, no database;
* validate: ``NoarkValidator.validate`` (XSD and every Arkade rule, checksums, documents), against
  ``xmllint --stream --schema`` on the same XML files, each with its schema (arkivstruktur.xml,
  both journals, endringslogg.xml, arkivuttrekk.xml), one after the other; the ratio to xmllint on
  arkivstruktur.xml alone is printed too. Wall time, and the CPU time of all its processes.

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

from _children import cpu_seconds, in_process, peak_mb, print_table, print_targets
from _register import DOC_EVERY, POSTS_PER_CASE, build


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
    results.put((elapsed, peak_mb(with_children=True), cpu_seconds(), report.failed()))


def run_floor(cases: int, out: str, results: mp.Queue) -> None:
    """lxml ``xmlfile`` writing the same four files from memory, no database: the elements the export writes
    for this register (every leaf, the parties, a document description for every 50th post), each built
    with ``SubElement`` as lxml's documentation does it. Returns the bytes written too, to compare
    with the export's."""
    from lxml import etree

    ns = "http://www.arkivverket.no/standarder/noark5/arkivstruktur"
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    now = datetime(2026, 1, 5, 8, 0, tzinfo=UTC).isoformat()
    part_id, unit = str(uuid.uuid4()), "Servicetorget"
    rows = [(str(uuid.uuid4()), n, [(str(uuid.uuid4()), k, (n - 1) * POSTS_PER_CASE + k)
                                    for k in range(1, POSTS_PER_CASE + 1)])
            for n in range(1, cases + 1)]

    def leaves(parent: Any, pairs: Any, space: str = ns) -> None:
        for name, value in pairs:
            etree.SubElement(parent, f"{{{space}}}{name}").text = value

    def party(parent: Any, k: int, n: int, space: str = ns) -> None:
        leaves(etree.SubElement(parent, f"{{{space}}}korrespondansepart"),
               (("korrespondanseparttype", "Avsender" if k % 2 else "Mottaker"),
                ("korrespondansepartNavn", f"Innbygger {n}")), space)

    begin = time.perf_counter()
    with etree.xmlfile(out, encoding="utf-8") as xf, xf.element(f"{{{ns}}}arkiv", nsmap={None: ns, "xsi": xsi}):
        for case_id, n, posts in rows:
            folder = etree.Element(f"{{{ns}}}mappe", {f"{{{xsi}}}type": "saksmappe"}, nsmap={None: ns, "xsi": xsi})
            leaves(folder, (("systemID", case_id), ("mappeID", f"2026/{n}"), ("tittel", f"Henvendelse {n} fra Facebook"),
                            ("offentligTittel", f"Henvendelse {n}"), ("dokumentmedium", "Elektronisk arkiv"),
                            ("opprettetDato", now), ("opprettetAv", "bench"), ("avsluttetDato", now),
                            ("avsluttetAv", "bench"), ("referanseArkivdel", part_id)))
            for post_id, k, seq in posts:
                post = etree.SubElement(folder, f"{{{ns}}}registrering", {f"{{{xsi}}}type": "journalpost"})
                leaves(post, (("systemID", post_id), ("opprettetDato", now), ("opprettetAv", "bench"),
                              ("arkivertDato", now), ("arkivertAv", "bench"), ("referanseArkivdel", part_id)))
                if seq % DOC_EVERY == 0:
                    description = etree.SubElement(post, f"{{{ns}}}dokumentbeskrivelse")
                    leaves(description, (("systemID", post_id), ("dokumenttype", "Sosiale medier"),
                                         ("dokumentstatus", "Dokumentet er ferdigstilt"), ("tittel", f"Kommentar {k}"),
                                         ("opprettetDato", now), ("opprettetAv", "bench"),
                                         ("tilknyttetRegistreringSom", "Hoveddokument"), ("dokumentnummer", "1"),
                                         ("tilknyttetDato", now), ("tilknyttetAv", "bench")))
                    leaves(etree.SubElement(description, f"{{{ns}}}dokumentobjekt"), (
                        ("systemID", post_id), ("versjonsnummer", "1"), ("variantformat", "Arkivformat"),
                        ("format", "txt"), ("formatDetaljer", f"text/plain (post-{seq}.txt)"), ("opprettetDato", now),
                        ("opprettetAv", "bench"), ("referanseDokumentfil", f"DOKUMENT/{post_id}.txt"),
                        ("sjekksum", "0" * 64), ("sjekksumAlgoritme", "SHA256"), ("filstoerrelse", "40")))
                leaves(post, (("registreringsID", f"2026/{n}-{k}"), ("tittel", f"Kommentar {k} i sak {n}"),
                              ("dokumentmedium", "Elektronisk arkiv")))
                party(post, k, n)
                leaves(post, (("journalaar", "2026"), ("journalsekvensnummer", str(seq)),
                              ("journalpostnummer", str(k)),
                              ("journalposttype", "Inngående dokument" if k % 2 else "Utgående dokument"),
                              ("journalstatus", "Arkivert"), ("journaldato", "2026-01-05"),
                              ("mottattDato" if k % 2 else "sendtDato", now)))
            leaves(folder, (("saksaar", "2026"), ("sakssekvensnummer", str(n)), ("saksdato", "2026-01-05"),
                            ("administrativEnhet", unit), ("saksansvarlig", "bench"), ("saksstatus", "Avsluttet")))
            xf.write(folder, pretty_print=True)
    written = os.path.getsize(out)
    for journal in ("loependeJournal", "offentligJournal"):
        jns = f"http://www.arkivverket.no/standarder/noark5/{journal}"
        public = journal == "offentligJournal"
        with etree.xmlfile(out + f".{journal}", encoding="utf-8") as xf, xf.element(f"{{{jns}}}{journal}",
                                                                                    nsmap={None: jns}):
            for _case_id, n, posts in rows:
                for post_id, k, seq in posts:
                    entry = etree.Element(f"{{{jns}}}journalregistrering", nsmap={None: jns})
                    leaves(etree.SubElement(entry, f"{{{jns}}}klasse"), (
                        ("klasseID", "070"), ("tittel", "Informasjon og kommunikasjon, sosiale medier")), jns)
                    leaves(etree.SubElement(entry, f"{{{jns}}}saksmappe"), (
                        ("saksaar", "2026"), ("sakssekvensnummer", str(n)),
                        *(() if public else (("tittel", f"Henvendelse {n} fra Facebook"),)),
                        ("offentligTittel", f"Henvendelse {n}")), jns)
                    post = etree.SubElement(entry, f"{{{jns}}}journalpost")
                    leaves(post, (("systemID", post_id), ("journalaar", "2026"), ("journalsekvensnummer", str(seq)),
                                  ("journalpostnummer", str(k)),
                                  *(() if public else (("tittel", f"Kommentar {k} i sak {n}"),)),
                                  ("offentligTittel", f"Kommentar {k} i sak {n}"), ("journaldato", "2026-01-05")), jns)
                    party(post, k, n, jns)
                    xf.write(entry, pretty_print=True)
        written += os.path.getsize(out + f".{journal}")
    lns = "http://www.arkivverket.no/standarder/noark5/endringslogg"
    with etree.xmlfile(out + ".endringslogg", encoding="utf-8") as xf, xf.element(f"{{{lns}}}endringslogg",
                                                                                  nsmap={None: lns}):
        for case_id, _n, _posts in rows:
            change = etree.Element(f"{{{lns}}}endring", nsmap={None: lns})
            leaves(change, (("referanseArkivenhet", case_id), ("referanseMetadata", "saksstatus"),
                            ("endretDato", now), ("endretAv", "bench"), ("tidligereVerdi", "Under behandling"),
                            ("nyVerdi", "Avsluttet")), lns)
            xf.write(change, pretty_print=True)
    elapsed = time.perf_counter() - begin
    results.put((elapsed, peak_mb(), written + os.path.getsize(out + ".endringslogg")))


#: The XML files of an extraction and the schema each is checked against (what the validator reads).
XML_SCHEMAS = {"arkivstruktur.xml": "arkivstruktur.xsd", "loependeJournal.xml": "loependeJournal.xsd",
               "offentligJournal.xml": "offentligJournal.xsd", "endringslogg.xml": "endringslogg.xsd",
               "arkivuttrekk.xml": "addml.xsd"}


def xmllint(out: Path) -> tuple[dict[str, float], bool]:
    """Seconds of ``xmllint --stream --schema`` on each XML file of the extraction, and whether all are valid."""
    seconds, valid = {}, True
    for name, xsd in XML_SCHEMAS.items():
        begin = time.perf_counter()
        lint = subprocess.run(["xmllint", "--stream", "--noout", "--schema", str(out / xsd), str(out / name)],
                              capture_output=True, text=True)
        seconds[name] = time.perf_counter() - begin
        valid = valid and lint.returncode == 0
    return seconds, valid


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
        xml_mb = sum((out / name).stat().st_size for name in XML_SCHEMAS if name != "arkivuttrekk.xml") / 1e6
        struct_mb = (out / "arkivstruktur.xml").stat().st_size / 1e6
        floor_s, _floor_mb, floor_bytes = in_process(run_floor, cases, str(folder / "floor.xml"))
        validate_s, validate_mb, validate_cpu, failed = in_process(run_validate, str(standards), str(out))
        lint, valid = xmllint(out)
        return {"posts": posts, "built": built, "export_s": export_s, "export_mb": export_mb, "size_mb": size_mb,
                "xml_mb": xml_mb, "floor_mb": floor_bytes / 1e6, "struct_mb": struct_mb, "floor_s": floor_s,
                "validate_s": validate_s, "validate_mb": validate_mb, "validate_cpu": validate_cpu, "failed": failed,
                "xmllint_s": sum(lint.values()), "xmllint_struct_s": lint["arkivstruktur.xml"], "xmllint_ok": valid}
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
    for r in rows:
        print(f"{r['posts']} posts: the export wrote {r['xml_mb']:.0f} MB of XML, the floor {r['floor_mb']:.0f} MB; "
              f"validation {r['validate_s']:.1f} s wall, {r['validate_cpu']:.1f} s CPU (two processes); xmllint "
              f"{r['xmllint_s']:.1f} s on the same five XML files ({r['validate_s'] / r['xmllint_s']:.2f}x), "
              f"{r['xmllint_struct_s']:.1f} s on arkivstruktur.xml alone ({r['validate_s'] / r['xmllint_struct_s']:.2f}x)")
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
