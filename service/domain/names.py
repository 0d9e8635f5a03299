"""Display names: tidy spacing, and the case-folded key that makes names unique ignoring case."""

from __future__ import annotations

import unicodedata

from service.domain.errors import Invalid


def clean_name(value: str, field: str = "name", max_length: int = 120) -> str:
    """Collapse inner white space and strip; :raise Invalid: empty or too long."""
    text = " ".join(value.split())
    if not text:
        raise Invalid.field(field, "must not be empty", "field.empty")
    if len(text) > max_length:
        raise Invalid.field(
            field, f"must be at most {max_length} characters", "field.too_long", max=max_length
        )
    return text


def name_key(name: str) -> str:
    """``"Cartera  Norte"`` and ``"cartera norte"`` share one key."""
    return " ".join(name.split()).casefold()


def optional_text(value: str | None) -> str | None:
    """Blank strings become None so the database holds one form of 'nothing'."""
    if value is None:
        return None
    text = value.strip()
    return text or None


def fold(text: str | None) -> str:
    """Case- and accent-insensitive form for search: ``"José PÉREZ"`` -> ``"jose perez"``.

    Kept in ``search_key`` columns so search behaves the same on SQLite (whose LOWER()
    folds ASCII only) and PostgreSQL.
    """
    if not text:
        return ""
    if text.isascii():  # nothing to decompose, and casefold() is lower() (a 100k-row import)
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def search_key(*parts: str | None) -> str:
    return " | ".join(fold(p) for p in parts if p)
