"""Benchmark: FGS 2.0 package (CSIP METS + CITS ERMS 3.0) export and validation at 100,000 and 1,000,000 records.

A Swedish register is filled with the same bulk generator as the Noark benchmark
(closed cases with five records each, a correspondent per record, a small text
document for every 50th record). Then, each in a fresh process so its peak RSS is
its own:

* export: ``FgsExport.run(check=False)`` (the writer alone), against a floor of
  ``lxml.etree.xmlfile`` writing the same ERMS elements from memory, no database;
* validate: ``FgsValidator.validate`` (METS, CSIP, files with SHA-256, ERMS schema,
  Schematron, ERMS requirements), against ``xmllint --stream --schema`` on every XML
  file of the package, one after the other: each METS document against METS 1.12 with
  the CSIP and SIP extensions (the schema the validator uses, imports resolved through
  csip/catalog.xml), erms.xml against ERMS_v3.xsd. Wall time, and the CPU time of all
  the validator's processes (its single-process cost, which a busy machine can't hide).

Run:  python benchmarks/fgs.py [--records 1000000] [--standards DIR]
Targets (issue 6, as for the Noark export): export within 2x of the floor, under
300 MB peak RSS, not growing between 100,000 and 1,000,000 records; validation
under 300 MB at 1,000,000 records.
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
from pathlib import Path
from typing import Any

from _children import cpu_seconds, in_process, peak_mb, print_table, print_targets
from _register import POSTS_PER_CASE, build

ERMS_FILE = "representations/rep1/data/erms.xml"


def run_export(url: str, files: str, standards: str, out: str, results: mp.Queue) -> None:
    os.environ["SMCASE_FILES"] = files
    from smcase.db import make_engine
    from smcase.export.fgs import FgsExport
    from smcase.fgs import VERSIONS
    from smcase.register import RegisterService
    from smcase.standards import Standards
    from smcase.store import FileStore

    engine = make_engine(url)
    service = RegisterService.open(engine, user="bench", files=FileStore(Path(files)))
    begin = time.perf_counter()
    FgsExport(service, Standards(Path(standards)), VERSIONS["3.0"]).run(Path(out), check=False)
    results.put((time.perf_counter() - begin, peak_mb()))


def run_validate(standards: str, out: str, results: mp.Queue) -> None:
    from smcase.standards import Standards
    from smcase.validate.fgs import FgsValidator

    begin = time.perf_counter()
    report = FgsValidator(Standards(Path(standards))).validate(Path(out))
    results.put((time.perf_counter() - begin, peak_mb(with_children=True), cpu_seconds(), report.failed()))


def run_floor(cases: int, out: str, results: mp.Queue) -> None:
    """lxml xmlfile writing the same ERMS aggregations and records from memory: no database, no documents."""
    from lxml import etree

    ns = "https://DILCIS.eu/XML/ERMS"
    e = f"{{{ns}}}"
    when = "2026-01-05T09:00:00+01:00"
    rows = [(str(uuid.uuid4()), n, [(str(uuid.uuid4()), k) for k in range(1, POSTS_PER_CASE + 1)])
            for n in range(1, cases + 1)]
    begin = time.perf_counter()

    def text(parent: Any, name: str, value: str, **attrib: str) -> None:
        etree.SubElement(parent, f"{e}{name}", attrib).text = value

    def disposal(parent: Any) -> None:
        rule = etree.SubElement(parent, f"{e}disposal", disposable="false")
        text(rule, "disposalScheduleId", "preserve")
        text(rule, "disposalAction", "bevaras")
        text(rule, "disposalDescription", "Bevaras")
        dates = etree.SubElement(rule, f"{e}dates")
        text(dates, "disposalDate", "2026-01-05T00:00:00", dateType="retention_period_start")

    with etree.xmlfile(out, encoding="utf-8") as xf, xf.element(f"{e}erms", nsmap={None: ns}), \
            xf.element(f"{e}aggregations"):
        for case_id, n, records in rows:
            folder = etree.Element(f"{e}aggregation", systemIdentifier=case_id, aggregationType="caseFile",
                                   classificationSchemaUsed="klassificeringsstruktur", nsmap={None: ns})
            text(folder, "objectId", f"KS 2026/{n:04d}")
            text(folder, "classification", "Kommunikation i sociala medier", classificationCode="1.4.3",
                 fullyQualifiedClassificationCode="1.4.3")
            text(folder, "title", f"Henvendelse {n} från Facebook")
            text(folder, "otherTitle", f"Henvendelse {n}", titleType="public")
            etree.SubElement(folder, f"{e}status", value="closed")
            disposal(folder)
            agents = etree.SubElement(folder, f"{e}agents")
            for kind in ("responsible_person", "creator"):
                agent = etree.SubElement(agents, f"{e}agent", agentType=kind)
                text(agent, "name", "bench")
            dates = etree.SubElement(folder, f"{e}dates")
            for kind in ("created", "opened", "closed"):
                text(dates, "date", when, dateType=kind)
            for record_id, k in records:
                record = etree.SubElement(folder, f"{e}record", systemIdentifier=record_id, recordType="social_post",
                                          recordPhysicalOrDigital="digital",
                                          classificationSchemaUsed="klassificeringsstruktur")
                text(record, "objectId", f"KS 2026/{n:04d}-{k}")
                text(record, "extraId", f"c{n * 10 + k}", extraIdType="platform:facebook")
                text(record, "title", f"Kommentar {k} i sak {n}")
                text(record, "otherTitle", f"Kommentar {k} i sak {n}", titleType="public")
                etree.SubElement(record, f"{e}status", value="received")
                text(record, "runningNumber", str(k))
                disposal(record)
                etree.SubElement(record, f"{e}direction", directionDefinition="incoming")
                agents = etree.SubElement(record, f"{e}agents")
                for kind, name in (("sender", f"Innbygger {n}"), ("receiver", "Benchmark kommune")):
                    agent = etree.SubElement(agents, f"{e}agent", agentType=kind)
                    text(agent, "name", name)
                dates = etree.SubElement(record, f"{e}dates")
                for kind in ("created", "received"):
                    text(dates, "date", when, dateType=kind)
            xf.write(folder, pretty_print=True)
    results.put((time.perf_counter() - begin, peak_mb()))


def xmllint(out: Path, standards: Path, folder: Path) -> tuple[dict[str, float], bool]:
    """Seconds of ``xmllint --stream --schema`` on each XML file of the package, and whether all are valid."""
    mets = folder / "mets-csip-sip.xsd"  # the validator's combined schema (Standards.mets_with_extensions)
    imports = "".join(f'<xs:import namespace="{ns}" schemaLocation="{(standards / "csip" / name).resolve().as_uri()}"/>'
                      for ns, name in (("http://www.loc.gov/METS/", "mets.xsd"),
                                       ("https://DILCIS.eu/XML/METS/CSIPExtensionMETS", "DILCISExtensionMETS.xsd"),
                                       ("https://DILCIS.eu/XML/METS/SIPExtensionMETS", "DILCISExtensionSIPMETS.xsd")))
    mets.write_text(f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:smcase:mets-csip-sip">'
                    f"{imports}</xs:schema>", encoding="utf-8")
    env = {**os.environ, "XML_CATALOG_FILES": str((standards / "csip" / "catalog.xml").resolve())}
    seconds, valid = {}, True
    for path in sorted(out.rglob("*.xml")):
        name = str(path.relative_to(out))
        schema = mets if path.name == "METS.xml" else standards / "erms" / "ERMS_v3.xsd" if name == ERMS_FILE else None
        if schema is None:
            continue
        begin = time.perf_counter()
        lint = subprocess.run(["xmllint", "--stream", "--noout", "--schema", str(schema), str(path)],
                              capture_output=True, text=True, env=env)
        seconds[name] = time.perf_counter() - begin
        valid = valid and lint.returncode == 0
    return seconds, valid


def measure(records: int, standards: Path) -> dict[str, Any]:
    cases = records // POSTS_PER_CASE
    folder = Path(tempfile.mkdtemp(prefix="smcase-bench-fgs-"))
    try:
        url, files, out = f"sqlite:///{folder / 'smcase.db'}", folder / "files", folder / "package"
        begin = time.perf_counter()
        build(url, files, cases, "SE")
        built = time.perf_counter() - begin
        export_s, export_mb = in_process(run_export, url, str(files), str(standards), str(out))
        size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
        erms_mb = (out / ERMS_FILE).stat().st_size / 1e6
        floor_s, _floor_mb = in_process(run_floor, cases, str(folder / "floor.xml"))
        validate_s, validate_mb, validate_cpu, failed = in_process(run_validate, str(standards), str(out))
        lint, valid = xmllint(out, standards, folder)
        return {"records": records, "built": built, "export_s": export_s, "export_mb": export_mb,
                "size_mb": size_mb, "erms_mb": erms_mb, "floor_s": floor_s, "validate_s": validate_s,
                "validate_mb": validate_mb, "validate_cpu": validate_cpu, "failed": failed,
                "xmllint_s": sum(lint.values()), "xmllint_files": len(lint), "xmllint_erms_s": lint.get(ERMS_FILE, 0.0),
                "xmllint_ok": valid and ERMS_FILE in lint}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the largest run")
    parser.add_argument("--standards", default=os.environ.get("SMCASE_STANDARDS", "../shared/standards"))
    args = parser.parse_args()
    if not shutil.which("xmllint"):
        raise SystemExit("xmllint is missing: install Debian's libxml2-utils")
    standards = Path(args.standards)
    rows = [measure(n, standards) for n in sorted({max(10_000, args.records // 10), args.records})]
    print_table(rows, "records", "erms.xml", "erms_mb")
    big, small = rows[-1], rows[0]
    print(f"load average {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    for r in rows:
        print(f"{r['records']} records: validation {r['validate_s']:.1f} s wall ({r['validate_s'] / r['xmllint_s']:.2f}x), "
              f"{r['validate_cpu']:.1f} s CPU in all its processes ({r['validate_cpu'] / r['xmllint_s']:.2f}x); "
              f"xmllint {r['xmllint_s']:.1f} s on the package's {r['xmllint_files']} XML files "
              f"({r['xmllint_erms_s']:.1f} s of it on erms.xml)")
    checks = {
        "export within 2x of the floor": big["export_s"] <= 2 * big["floor_s"],
        "export under 300 MB": big["export_mb"] < 300,
        "export memory flat (within 10%)": big["export_mb"] <= 1.1 * small["export_mb"],
        "validation within 2x of xmllint (wall)": big["validate_s"] <= 2 * big["xmllint_s"],
        "validation within 2x of xmllint (CPU, single-process)": big["validate_cpu"] <= 2 * big["xmllint_s"],
        "validation under 300 MB": big["validate_mb"] < 300,
    }
    print_targets(checks)

if __name__ == "__main__":
    main()
