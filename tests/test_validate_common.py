"""The validators' shared building blocks: ID keys, the on-disk ID store, the hashing reader."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from lxml import etree

from smcase.validate.common import HashingReader, IdStore, RepeatFinder, uuid_key


def test_a_uuid_has_one_key_however_it_is_written() -> None:
    value = uuid.uuid4()
    forms = {str(value), str(value).upper(), value.hex}
    assert {uuid_key(form) for form in forms} == {value.bytes}


def test_other_ids_get_a_16_byte_key_of_their_own() -> None:
    keys = {uuid_key(value) for value in ("abc", "2026/42", "", "0123", "g" * 32)}
    assert len(keys) == 5 and all(len(key) == 16 for key in keys)


def test_the_id_store_names_every_duplicate_within_and_across_batches() -> None:
    store = IdStore()
    store.BATCH = 3  # type: ignore[misc]  # several batches, each written to disk
    try:
        values = [str(uuid.uuid4()) for _ in range(7)]
        for line, value in enumerate(values, start=1):
            store.add(value, line)
        store.add(values[6], 8)  # still pending: found in memory
        store.add(values[0], 9)  # on disk: found when its batch is written
        store.add("systemid-1", 10)
        store.add("systemid-1", 11)
        store.flush()
        assert sorted(store.duplicates, key=lambda d: d[1]) == [(values[6], 8), (values[0], 9), ("systemid-1", 11)]
        assert store.present([uuid_key(v) for v in values]) == {uuid_key(v) for v in values}
    finally:
        store.close()


@pytest.mark.parametrize("bits, suspects", [(28, 10_000), (6, 3)])  # 64 bits: nearly every ID is a suspect
def test_the_repeat_finder_names_every_repeat_and_no_false_alarm(bits: int, suspects: int) -> None:
    finder = RepeatFinder()
    finder.BITS, finder.SUSPECTS = bits, suspects  # type: ignore[misc]
    finder.bits = bytearray(1 << max(bits - 3, 0))
    try:
        values = [str(uuid.uuid4()) for _ in range(5000)]
        for start in range(0, 5000, 7):  # in batches, one with an empty ID
            finder.add(values[start:start + 7] + [""], lambda n, start=start: start + n + 1)  # type: ignore[misc]
        more = [values[4999], values[0].upper().replace("-", ""), "systemid-1", "systemid-1", "systemid-1"]
        finder.add(more, lambda n: 5001 + n)  # the one just before; the first, spelled otherwise; a name thrice
        finder.flush()
        assert finder.duplicates == [(values[4999], 5001), (values[0].upper().replace("-", ""), 5002),
                                     ("systemid-1", 5004), ("systemid-1", 5005)]
    finally:
        finder.close()


def test_the_repeat_finder_keeps_the_first_hundred() -> None:
    finder = RepeatFinder()
    try:
        for line in range(300):
            finder.add(["same"], lambda _n, line=line: line)  # type: ignore[misc]
        finder.flush()
        assert finder.duplicates == [("same", line) for line in range(1, 101)]
    finally:
        finder.close()


def test_a_batch_with_a_duplicate_still_stores_the_rest() -> None:
    store = IdStore()
    try:
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        store.add(first, 1)
        store.flush()
        store.add(first, 2)
        store.add(second, 3)
        store.flush()
        assert store.duplicates == [(first, 2)]
        assert store.present([uuid_key(second)]) == {uuid_key(second)}
    finally:
        store.close()


def test_the_hashing_reader_hashes_the_whole_file_while_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "doc.xml"
    path.write_bytes(b"<a>" + b"<b>x</b>" * 100_000 + b"</a>\n<!-- after the root -->\n")
    with HashingReader(path) as reader:
        count = sum(1 for _ in etree.iterparse(reader, tag="b"))
        digest = reader.sha256()
    assert count == 100_000
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_indexed_sniffer_answers_as_puremagic_does() -> None:
    import os

    import puremagic

    from smcase.validate import mime

    def reference(head: bytes) -> set[str]:
        try:
            found = puremagic.magic_string(head)
        except (puremagic.PureError, ValueError):
            return set()
        return {mime._ALIASES.get(m.mime_type, m.mime_type) for m in found if m.byte_match and m.mime_type}

    samples = [b"", b"hello\n", b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, b"PK\x03\x04" + b"\0" * 60]
    for row in [*puremagic.magic_header_array[::5], *puremagic.magic_footer_array]:
        pad = b"\0" * max(0, row.offset)
        samples.append(pad + row.byte_match + os.urandom(40) + (row.byte_match if row.offset < 0 else b""))
    for key, rows in puremagic.multi_part_dict.items():
        for row in rows:
            head = bytearray(os.urandom(600))
            head[:len(key)] = key
            if row.offset >= 0:
                head[row.offset:row.offset + len(row.byte_match)] = row.byte_match
            else:
                head += row.byte_match
            samples.append(bytes(head))
    assert [s for s in samples if mime.sniff(s) != reference(s)] == []


def test_an_xml_file_declared_as_xml_is_not_taken_for_a_binary_format(tmp_path: Path) -> None:
    """puremagic reads '<?xml' as a QuickTime media link; every schema of a valid package was warned about."""
    from smcase.validate.mime import check

    schema = tmp_path / "mets.xsd"
    schema.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?>\n<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>')
    assert check("application/xml", schema) == (None, None)
    assert check("text/xml", schema) == (None, None)
    assert check("image/png", schema)[0] == "declared image/png but its bytes are application/xml"
