"""Exported cells never run as spreadsheet formulas, and come back unchanged on import."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.spreadsheet import neutralize, restore


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://x","y")',
        "-2+3",
        "@SUM(A1)",
        "+cmd|' /C calc'!A0",
        '+1+HYPERLINK("http://x")',
        "\t=1",
        "\r=1",
        "+",
        "'=already quoted",
    ],
)
def test_formula_like_cells_get_a_leading_quote(text):
    assert neutralize(text) == "'" + text


@pytest.mark.parametrize(
    "text",
    [
        "+5215512345678",
        "+525511111111;+523312345678",
        "ana@example.com",
        "Ana López",
        "CRM-7",
        "'ok'",
        "",
    ],
)
def test_ordinary_cells_and_phones_are_left_alone(text):
    assert neutralize(text) == text


def test_none_is_an_empty_cell():
    assert neutralize(None) == ""


@given(st.text())
def test_restore_gives_back_what_was_exported(text):
    cell = neutralize(text)
    assert restore(cell) == text
    assert not cell.startswith(("=", "-", "@", "\t", "\r"))
