"""The benchmarks' register: closed cases with five records each, bulk-inserted in the register's own tables.

Shared by the Noark 5 and the FGS benchmarks, so both export the same register
(one Norwegian, one Swedish): a correspondent per record and a small text document
for every 50th record, and a hash-chained audit entry for each closing; the last
entry of each batch attests the batch's rows, so ``smcase audit verify`` passes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

POSTS_PER_CASE = 5
DOC_EVERY = 50


def build(url: str, files: Path, cases: int, country: str) -> None:
    """A register of ``cases`` closed cases, bulk-inserted (the register service is not the subject).

    ``NO``: Noark numbering (2026/n, with journal year and sequence); ``SE``: diary numbers (KS 2026/000n).
    """
    from smcase import attest, audit
    from smcase.db import bulk_insert, make_engine
    from smcase.model import (
        AuditEntry,
        AuditHead,
        AuditPayload,
        Case,
        Classification,
        Correspondent,
        Counter,
        Document,
        Record,
        User,
        table_of,
    )
    from smcase.policy import canonical_json, load_file
    from smcase.register import create_register
    from smcase.resources import default_policy
    from smcase.store import FileStore

    engine = make_engine(url)
    policy = load_file(default_policy(country))
    create_register(engine, name="Benchmark kommune", policy=policy, user="bench",
                    org_number="964903123" if country == "NO" else "212000-0000")
    norwegian = country == "NO"
    store = FileStore(files)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    with engine.begin() as conn:
        class_id = conn.execute(table_of(Classification).select().limit(1)).first().id
        user_id = conn.execute(table_of(User).select().limit(1)).first().id
        head = conn.execute(table_of(AuditHead).select()).first()
        seq, prev = head.seq, head.entry_hash
        record_id = doc_count = 0
        with store.deferred_sync():
            for first in range(0, cases, 2000):
                case_rows, record_rows, party_rows, doc_rows, entries, payloads = [], [], [], [], [], []
                for n in range(first + 1, min(first + 2000, cases) + 1):
                    opened = start + timedelta(seconds=n * 20)
                    closed = opened + timedelta(hours=2)
                    case_uuid = uuid.uuid4()
                    case_rows.append({"id": n, "uuid": case_uuid, "diary_number": f"2026/{n}" if norwegian else f"KS 2026/{n:04d}", "year": 2026, "seq": n,
                                      "title": f"Henvendelse {n} fra Facebook", "public_title": f"Henvendelse {n}",
                                      "status": "closed", "class_id": class_id, "owner_unit": "Servicetorget",
                                      "officer_id": user_id, "created_at": opened, "created_by_id": user_id,
                                      "updated_at": closed, "closed_at": closed, "closed_by_id": user_id,
                                      "disposal_rule": policy.case_disposal_rule, "legal_hold": False, "channel_id": None,
                                      "next_record_number": POSTS_PER_CASE + 1, "confidentiality_ground": None,
                                      "withheld_fields": None, "confidentiality_marked_at": None,
                                      "confidentiality_marked_by": None})
                    for k in range(1, POSTS_PER_CASE + 1):
                        record_id += 1
                        record_rows.append({"id": record_id, "uuid": uuid.uuid4(), "case_id": n, "number": k,
                                            "journal_year": 2026 if norwegian else None,
                                            "journal_seq": record_id if norwegian else None,
                                            "direction": "incoming" if k % 2 else "outgoing", "kind": "social_post",
                                            "title": f"Kommentar {k} i sak {n}", "public_title": f"Kommentar {k} i sak {n}",
                                            "registered_at": opened + timedelta(minutes=k), "registered_by_id": user_id,
                                            "document_date": None, "source_platform": "facebook",
                                            "source_external_id": f"c{record_id}", "source_url": None,
                                            "source_author": "Innbygger", "source_author_id": None,
                                            "confidentiality_ground": None, "withheld_fields": None,
                                            "confidentiality_marked_at": None, "confidentiality_marked_by": None})
                        party_rows.append({"record_id": record_id, "role": "sender" if k % 2 else "recipient",
                                           "name": f"Innbygger {n}", "address": None})
                        if record_id % DOC_EVERY == 0:
                            stored = store.put_bytes(f"Innlegg {record_id}\nTekst i kommentaren.\n".encode(),
                                                     f"post-{record_id}.txt")
                            doc_count += 1
                            doc_rows.append({"uuid": uuid.uuid4(), "record_id": record_id, "number": 1,
                                             "sha256": stored.sha256, "size": stored.size, "format": "txt",
                                             "media_type": "text/plain", "original_name": stored.original_name,
                                             "added_at": opened, "added_by": "bench"})
                    seq += 1
                    body = canonical_json({"before": {"status": "in_progress"}, "after": {"status": "closed"}})
                    digest = audit.sha256(body.encode()).hexdigest()
                    entries.append(dict(seq=seq, at=closed, actor="bench", action="case.close", entity="case",
                                        entity_uuid=case_uuid, ref=case_rows[-1]["diary_number"],
                                        payload_sha256=digest, rows_sha256=None))
                    payloads.append({"seq": seq, "payload": body})
                bulk_insert(conn, table_of(Case), case_rows)
                bulk_insert(conn, table_of(Record), record_rows)
                bulk_insert(conn, table_of(Correspondent), party_rows)
                bulk_insert(conn, table_of(Document), doc_rows)
                # The batch's rows are attested by its last entry, as the register service does for a batch.
                entries[-1]["rows_sha256"] = attest.attest(conn, {"cases": [r["id"] for r in case_rows],
                                                                  "records": [r["id"] for r in record_rows]}, seq)
                for entry in entries:
                    entry["prev_hash"] = prev
                    prev = entry["entry_hash"] = audit.entry_hash(**entry)
                bulk_insert(conn, table_of(AuditEntry), entries)
                bulk_insert(conn, table_of(AuditPayload), payloads)
        conn.execute(table_of(AuditHead).update().values(seq=seq, entry_hash=prev))
        for scope, value in (("case", cases), ("journal", record_id))[:2 if norwegian else 1]:
            conn.execute(table_of(Counter).insert().values(scope=scope, year=2026, value=value))
    engine.dispose()
