"""Display names: tidy spacing, and the case-folded key that makes names unique ignoring case."""

from __future__ import annotations

from service.domain.errors import Invalid


def clean_name(value: str, field: str = "name", max_length: int = 120) -> str:
    """Collapse inner white space and strip; :raise Invalid: empty or too long."""
    text = " ".join(value.split())
    if not text:
        raise Invalid.field(field, "must not be empty")
    if len(text) > max_length:
        raise Invalid.field(field, f"must be at most {max_length} characters")
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
