"""English words in the text a person reads from a page: the check tests/ui/test_spanish.py
runs on every page. No app and no database here."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

# Common English words that are not also Spanish words. Left out on purpose: a, no, de,
# en, me, he, ha, as, do, use (usar: "Use un color"), come, son, once, red, era, van, sale,
# dice, fin, error, color, total, real, final, general, local, normal, chat, token, web,
# plan, menu, supervisor, principal, personal, id.
WORDS = """
    the and or not but if then else than that this these those there here where when what
    which who whom whose why how is are was were be been being am has have had having does
    did done doing will would shall should can could cannot may might must need needs it
    its they them their theirs we our ours you your yours his her him she my mine
    of on in at by to up down out off over under into onto from with without within about
    after before between during until while because for so too very also only just even
    all any some none each every other another more most less least many much few both
    either neither yes true false null nothing everything something anything
    new old first last next previous back forward again now today yesterday tomorrow
    ago always never soon later already still yet ever
    name names page pages item items list lists field fields value values
    save saved saving cancel cancelled canceled delete deleted deleting edit edited editing
    create created creating update updated updating remove removed add added adding move
    moved moving search searching filter filters apply applied clear reset submit send
    sent confirm confirmed continue close closed open opened show shown hide view load
    loading sign signed login logout log choose chosen select selected upload uploaded
    download export exported import imported copy copied undo redo retry retrying refresh
    reload go try enter leave keep change changed changes assign assigned unassigned
    transfer handover activate activated deactivate deactivated enable enabled disable
    disabled allow allowed deny denied forbidden unauthorized required invalid valid
    missing found exist exists existing please sorry thanks welcome hello
    user users username password passwords email emails mail phone phones contact
    contacts team teams agent agents owner owners shared region regions portfolio
    portfolios audit event events resource resources date dates time times week month
    year minute minutes hour hours second seconds day days settings configuration home
    main content skip language status active inactive state reason channel room
    conversation conversations message messages queue department departments company
    notes reference external description icon colour row rows column columns file
    files template report preview summary details history timeline result results count
    number role roles admin administrator coordinator billing access permission request
    server internal method url browser session expired form security key secret
    nobody someone everyone unknown unexpected went wrong occurred failed failure
    success successfully connection connecting connected disconnected reconnecting lost
    live online offline available unavailable busy outside business timeout wait waiting pending
    processed skipped rejected unchanged renamed duplicate conflict conflicts sync
    synchronize characters character long short length empty full large small big
    too many same different other's don't doesn't isn't can't won't didn't you're it's
"""
ENGLISH = frozenset(WORDS.split())
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-confirm", "data-copied")
JSON_ATTRIBUTES = ("data-text", "data-wait-words")
BUTTON_INPUTS = ("submit", "button", "reset")


def _strings(value: object) -> list[str]:
    """Every string in a JSON value (its keys are code, not text)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


class VisibleText(HTMLParser):
    """The text a person reads or hears from a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._inside: str | None = None  # script or style
        self._json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag in ("script", "style"):
            self._inside = tag
            self._json = found.get("type") == "application/json"
        self.parts += [found[name] for name in READ_ATTRIBUTES if found.get(name)]
        for name in JSON_ATTRIBUTES:
            if found.get(name):
                try:
                    self.parts += _strings(json.loads(found[name]))
                except ValueError:
                    self.parts.append(found[name])
        if tag == "input" and found.get("type") in BUTTON_INPUTS and found.get("value"):
            self.parts.append(found["value"])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._inside = None

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside, self._json = None, False

    def handle_data(self, data: str) -> None:
        if self._inside is None:
            self.parts.append(data)
        elif self._json:
            self.parts += _strings(json.loads(data))


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.parts)


# emails, links and paths, {placeholders} app.js fills in, SETTING_NAMES and code (a token's
# prefix "crt_x0n…", Rocket.Chat's "_id")
ADDRESSES = re.compile(r"\S+@\S+|https?://\S+|/[\w/.-]+|\{\w+\}|\S*_\S*")
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def english_words(text: str, names: list[str] = ()) -> set[str]:
    """The English words of *text*, once the *names* (people, carteras, teams: as typed,
    whole words only), emails and paths are taken out."""
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", " ", text)
    text = ADDRESSES.sub(" ", text)
    return {word for word in WORD.findall(text.lower()) if word in ENGLISH}


def in_context(word: str, text: str) -> str:
    """*word* with a few words around it, to find it in the templates."""
    at = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE)
    where = " ".join(text[max(0, at.start() - 40) : at.end() + 40].split()) if at else ""
    return f"{word}: …{where}…"
