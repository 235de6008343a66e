"""The exporters' shared building blocks: unit prototypes and plain rows."""

from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import create_engine, text

from smcase.export.common import Prototype, plain_rows

NS = "urn:test"


def names_and_texts(element: etree._Element) -> list[tuple[str, str | None]]:
    return [(etree.QName(e).localname, e.text) for e in element.iter()]


def test_a_prototype_fills_its_leaves_in_order_and_leaves_out_empty_ones() -> None:
    shape = Prototype(NS, ("post", ("id", ("party", ("role", "name")), "title", "note")))
    post, leaves = shape.fill(("7", "Avsender", "Kari", "  ", None))
    assert names_and_texts(post) == [("post", None), ("id", "7"), ("party", None), ("role", "Avsender"),
                                     ("name", "Kari")]
    assert [etree.QName(leaf).localname for leaf in leaves] == ["id", "role", "name", "title", "note"]
    assert shape.index("title") == 3


def test_each_fill_is_a_copy_of_its_own() -> None:
    shape = Prototype(NS, ("post", ("id",)))
    first, _ = shape.fill(("1",))
    second, _ = shape.fill(("2",))
    assert (first[0].text, second[0].text) == ("1", "2")
    assert shape.root[0].text is None


def test_parts_go_in_before_a_required_leaf() -> None:
    shape = Prototype(NS, ("post", ("id", "optional", "number", "last")))
    post, leaves = shape.fill(("1", None, "2", "3"))
    before = leaves[shape.index("number")]
    for label in ("a", "b"):
        extra = etree.Element(f"{{{NS}}}extra")
        extra.text = label
        before.addprevious(extra)
    assert [(etree.QName(e).localname, e.text) for e in post] == [("id", "1"), ("extra", "a"), ("extra", "b"),
                                                                   ("number", "2"), ("last", "3")]


def test_a_wrong_number_of_values_is_an_error_not_a_shifted_unit() -> None:
    shape = Prototype(NS, ("post", ("id", "title")))
    with pytest.raises(ValueError):
        shape.fill(("1",))


def test_text_that_xml_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError):
        Prototype(NS, ("post", ("id",))).fill(("bell\x07",))


def test_plain_rows_keep_the_column_names() -> None:
    with create_engine("sqlite://").connect() as conn:
        result = conn.execute(text("SELECT 1 AS id, 'Kari' AS name"))
        plain = plain_rows(result)
        row = plain(next(iter(result)))
    assert (row.id, row.name) == (1, "Kari") and tuple(row) == (1, "Kari")
