"""Cells of CSV files people open in spreadsheets: neutralized on the way out, restored on
the way in (OWASP "CSV injection"). Pure functions: no database, no Flask.

A cell starting with ``=``, ``-``, ``@``, a tab or a carriage return, or ``+`` not followed
by digits only, is run as a formula by Excel and LibreOffice; a leading ``'`` makes it text.
Phones as we store them (``+5215512345678``, several joined by ``;``) carry no function call
and are left as they are.
"""

from __future__ import annotations

import re
from typing import Final

_TRIGGERS: Final = ("=", "-", "@", "\t", "\r")
# "+" then digits (and the separators of a phone list): arithmetic at worst, never a call.
_PHONES: Final = re.compile(r"\+\d[\d ;+]*")
QUOTE: Final = "'"


def _runs_as_formula(text: str) -> bool:
    if text.startswith(_TRIGGERS):
        return True
    return text.startswith("+") and _PHONES.fullmatch(text) is None


def neutralize(value: object) -> str:
    """The text of a cell to export, with a leading ``'`` when a spreadsheet would run it.

    Text that already starts with quotes before such a formula gets one more, so that
    :func:`restore` gives back exactly what was stored.
    """
    text = "" if value is None else str(value)
    return QUOTE + text if _runs_as_formula(text.lstrip(QUOTE)) else text


def restore(value: str) -> str:
    """The stored text of a cell :func:`neutralize` wrote (one added ``'`` taken off)."""
    if value.startswith(QUOTE) and _runs_as_formula(value.lstrip(QUOTE)):
        return value[1:]
    return value


def row(values: list[object] | tuple[object, ...]) -> list[str]:
    """Every cell of an exported row, neutralized."""
    return [neutralize(value) for value in values]
