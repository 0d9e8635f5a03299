"""The English catalog follows the code: every text the pages can show (service/ui, and the
audit's sentences in service/domain/audit_text.py; babel.cfg lists them) has an English
translation, neither empty nor fuzzy, with the same placeholders; no entry is left over.

When this fails: ``pybabel extract -F babel.cfg -k _l -k lazy_gettext -o /tmp/messages.pot .``,
``pybabel update -i /tmp/messages.pot -d service/ui/translations --ignore-obsolete``, then
translate what is new (README, "Web pages").
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "service/ui/translations/en/LC_MESSAGES/messages.po"
# the keywords of the extract command above: gettext's defaults (_, gettext, ngettext, N_, ...)
# and flask_babel's lazy_gettext, imported as _l
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


def extracted() -> dict[str, str]:
    """Each text of the code (a plural by its singular) and where it first appears."""
    with (ROOT / "babel.cfg").open() as config:
        methods, options = parse_mapping_cfg(config)
    found: dict[str, str] = {}
    for filename, line, message, _comments, _context in extract_from_dir(
        str(ROOT), methods, options, KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{line}")
    return found


def english():
    with CATALOG.open("rb") as po:
        return read_po(po, locale="en")


def test_the_audit_sentences_are_extracted_too():
    texts = extracted()
    assert "%(actor)s creó %(what)s" in texts  # an N_ mark
    assert "%(actor)s importó un CSV de contactos: %(counts)s" in texts  # ctx._
    assert "%(num)s fila" in texts  # ctx.ngettext
    assert "hace un momento" in texts  # words.gettext
    assert "role" not in texts  # a key inside _(...), not a text


def test_every_text_has_an_english_translation():
    catalog = english()
    missing = {
        msgid: where
        for msgid, where in extracted().items()
        if msgid not in catalog
        or catalog[msgid].fuzzy
        or not all(
            catalog[msgid].string if catalog[msgid].pluralizable else [catalog[msgid].string]
        )
    }
    assert missing == {}


def test_the_catalog_has_no_leftover_entries():
    texts = extracted()
    assert [
        m.id for m in english() if m.id and (m.id[0] if m.pluralizable else m.id) not in texts
    ] == []


def test_translations_keep_the_placeholders():
    problems = [(message.id, [str(e) for e in errors]) for message, errors in english().check()]
    assert problems == []
