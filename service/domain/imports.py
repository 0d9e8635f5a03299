"""CSV import and export of contacts (columns
``name,phones,emails,external_ref,company,cartera,region``).

``region`` is exported as the contact's region (its own, or its cartera's default). On import
a region equal to the contact's cartera's default means "follow the cartera" (so an export
imported back pins nothing), another region becomes the contact's own, and an empty cell
leaves the contact's region as it is.

The import reads the whole file first (a file the csv module cannot read fails before any
write), then takes its rows a chunk at a time: parses them, looks up in batches the contacts
they may match, applies them in order and writes what they created or added in bulk (on
PostgreSQL by COPY in a thread of its own, while the next chunk is parsed; see bulk.Writes).
A later row sees what earlier ones did, as if the file were one chunk; contacts changed after
being written are saved again at the end. 100k rows fit in one request. Bad rows are
reported and skipped; the rest land in the caller's transaction with one ``imported`` audit
event plus one ``contact_moved`` per move.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import io
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, ParamSpec, TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from service.domain import audit, bulk, contacts, spreadsheet
from service.domain.access import require_manager, visible_carteras, visible_contacts
from service.domain.actor import Actor
from service.domain.contacts import ContactFilters
from service.domain.errors import Invalid
from service.domain.identity import (
    EMAIL,
    PHONE,
    BadAddress,
    normalize_email,
    normalize_phone_quickly,
)
from service.domain.names import fold, name_key, search_key
from service.models import AuditEvent, Cartera, Contact, ContactIdentity, Region
from service.models.types import utcnow

COLUMNS: Final = (
    "name",
    "phones",
    "emails",
    "external_ref",
    "company",
    "notes",
    "cartera",
    "region",
)
# The header a Spanish-speaking coordinator writes (accents and case ignored), and the
# export's own Spanish header for spreadsheets: each names one of COLUMNS.
SPANISH: Final = {
    "name": "nombre",
    "phones": "teléfonos",
    "emails": "correos",
    "external_ref": "referencia",
    "company": "empresa",
    "notes": "notas",
    "cartera": "cartera",
    "region": "región",
}
ALIASES: Final = {
    **{fold(column.replace("_", " ")): column for column in COLUMNS},
    **{column: column for column in COLUMNS},
    **{fold(spanish): column for column, spanish in SPANISH.items()},
    "telefono": "phones",
    "correo": "emails",
    "email": "emails",
    "referencia externa": "external_ref",
    "nota": "notes",
}
BATCH: Final = 500
# Rows parsed, matched and written at a time: on PostgreSQL the server stores a chunk while
# the next one is parsed. Every phone, email and ref is still looked up before the first row
# naming it. Measured on 100k rows (bench/import_contacts.py, PostgreSQL, same minutes):
# 5,000 rows 10.1-10.5 s (the round trips of many small chunks), 20,000 7.5-8.2 s, one
# chunk of 100,000 8.2-8.3 s (nothing overlaps).
CHUNK: Final = 20_000
# The columns of a contact the import writes (see _Importer._values).
CONTACT_COLUMNS: Final = (
    "name",
    "company",
    "external_ref",
    "notes",
    "cartera_id",
    "region_id",
    "search_key",
)

Key = int | tuple[str, int]  # an existing contact id, or ("new", n) for one this file creates


@dataclass(frozen=True)
class RowError:
    row: int
    field: str | None
    message: str  # English, for the API
    rule: str = "row.invalid"  # what the pages say in Spanish (service/ui/messages.py)
    params: dict[str, Any] | None = None


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    # existing contacts a row renamed (each also an ``updated`` audit event)
    renamed: list[Renamed] = field(default_factory=list)
    # contacts a row moved out of another cartera (each also a ``contact_moved`` event)
    moves: list[Moved] = field(default_factory=list)


@dataclass(frozen=True)
class Moved:
    contact_id: int | None  # None until written
    name: str
    before: str | None  # the cartera it leaves
    after: str | None  # the cartera it goes to


@dataclass(frozen=True)
class Renamed:
    row: int
    contact_id: int | None  # None until written (a contact this file created, then renamed)
    before: str
    after: str


@dataclass
class _Row:
    line: int
    name: str
    pairs: list[tuple[str, str]]
    ref: str | None
    company: str | None
    cartera: str | None
    region: str | None = None
    notes: str | None = None


@dataclass
class _State:
    name: str
    company: str | None
    ref: str | None
    cartera_id: int | None
    pairs: set[tuple[str, str]]
    new_pairs: list[tuple[str, str]] = field(default_factory=list)
    dirty: bool = False
    visible: bool = True  # a contact the importer may not see is never touched
    region_id: int | None = None  # its own region (None: its cartera's)
    notes: str | None = None
    written: int = 0  # how many of new_pairs are written


class _Reject(Exception):
    def __init__(
        self, field: str | None, message: str, rule: str = "row.invalid", **params: Any
    ) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.rule, self.params = rule, params


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets on Spanish-language Windows save CSV as Windows-1252.
        return data.decode("cp1252", errors="replace")


def read_csv(data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of a CSV; ``,`` or ``;`` delimited.

    :raise Invalid: empty file, no ``name`` column, unknown columns, or a row the csv
        module refuses (a field over ``csv.field_size_limit()``); raised while iterating.
    """
    text = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [fold(h) for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise Invalid(
            f"The CSV header cannot be read: {exc}.", {"fields": {"header": [str(exc)]}}
        ) from None
    if not header:
        raise Invalid("The CSV is empty.", {"fields": {"file": ["empty"]}})
    unknown = [h for h in header if h not in ALIASES]
    named = [ALIASES.get(h) for h in header]
    if "name" not in named or unknown:
        raise Invalid(
            f"The CSV header must use the columns {', '.join(COLUMNS)} ('name' is required).",
            {
                "fields": {"header": [f"unknown columns: {unknown}" if unknown else "no name"]},
                "expected": list(COLUMNS),
            },
        )
    reader.fieldnames = named  # type: ignore[assignment]
    try:
        for row in reader:
            yield reader.line_num, {k: (v or "") for k, v in row.items() if k in COLUMNS}
    except csv.Error as exc:
        # e.g. a field over csv.field_size_limit() (128 KiB): no contact has one that long
        raise Invalid(
            f"The CSV cannot be read after line {reader.line_num}: {exc}.",
            {"fields": {"file": [str(exc)]}, "line": reader.line_num},
        ) from None


def _unescape(value: str) -> str:
    """A cell as the exporter meant it: the ``'`` it put before a formula-like text is not
    part of the data (see :mod:`service.domain.spreadsheet`)."""
    text = value.strip()
    # restore() only ever changes a cell that starts with the quote: the others (nearly
    # all, 800k cells in a 100k-row file) skip the call.
    return spreadsheet.restore(text) if text.startswith(spreadsheet.QUOTE) else text


def _parse(line: int, row: dict[str, str], region: str) -> _Row:
    name = " ".join(_unescape(row.get("name", "")).split())
    if not name:
        raise _Reject("name", "name is empty", "field.empty")
    if len(name) > 200:
        raise _Reject("name", "name is longer than 200 characters", "field.too_long", max=200)
    pairs: list[tuple[str, str]] = []
    for kind, column in ((PHONE, "phones"), (EMAIL, "emails")):
        for raw in _unescape(row.get(column, "")).split(";"):
            if not raw.strip():
                continue
            try:
                value = (
                    normalize_phone_quickly(raw, region) if kind == PHONE else normalize_email(raw)
                )
            except BadAddress as exc:
                raise _Reject(column, str(exc), exc.rule, **exc.params) from None
            if (kind, value) not in pairs:
                pairs.append((kind, value))
    return _Row(
        line=line,
        name=name,
        pairs=pairs,
        ref=_unescape(row.get("external_ref", "")) or None,
        company=_unescape(row.get("company", "")) or None,
        cartera=_unescape(row.get("cartera", "")) or None,
        region=_unescape(row.get("region", "")) or None,
        notes=_unescape(row.get("notes", "")) or None,
    )


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = list(values)
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


class _Importer:
    def __init__(self, session: Session, actor: Actor, move: bool) -> None:
        self.session, self.actor, self.move = session, actor, move
        self.report = ImportReport()
        self.by_pair: dict[tuple[str, str], Key] = {}
        self.by_ref: dict[str, Key] = {}
        self.state: dict[Key, _State] = {}
        self.new_keys: list[Key] = []
        # the id of each contact written: its own for existing ones, the new one for others
        self.ids: dict[Key, int] = {}
        self.touched: dict[Key, None] = {}  # contacts the rows since the last write named
        self.new_written = 0  # how many of new_keys are written
        self.writes = bulk.Writes(session)
        self.moves: list[tuple[Key, int | None, int]] = []
        # existing contact -> (last renaming line, name before the file, name after it)
        self.renames: dict[int, tuple[int, str, str]] = {}
        self.carteras: dict[str, tuple[int, str]] = {}
        self.default_region: dict[int, int | None] = {}
        for cid, name, key, region_id in session.execute(
            select(Cartera.id, Cartera.name, Cartera.name_key, Cartera.region_id).where(
                visible_carteras(actor)
            )
        ):
            self.carteras[key] = (cid, name)
            self.default_region[cid] = region_id
        self.regions: dict[str, int] = {
            key: rid for key, rid in session.execute(select(Region.name_key, Region.id))
        }

    def preload(self, rows: Sequence[_Row]) -> None:
        """Look up the contacts *rows* may match that earlier rows did not already bring:
        each phone, email and ref is looked up before the first row naming it is applied
        (what the rows already wrote is known here: a value found is kept only when new)."""
        self.writes.wait()
        values = list({v for r in rows for k, v in r.pairs if (k, v) not in self.by_pair})
        refs = list({r.ref for r in rows if r.ref and r.ref not in self.by_ref})
        ids: set[int] = set()
        for kind, value, cid in bulk.rows_where_in(
            self.session,
            select(ContactIdentity.kind, ContactIdentity.value, ContactIdentity.contact_id),
            ContactIdentity.value,
            values,
        ):
            if self.by_pair.setdefault((kind, value), cid) == cid:
                ids.add(cid)
        for ref, cid in bulk.rows_where_in(
            self.session, select(Contact.external_ref, Contact.id), Contact.external_ref, refs
        ):
            if self.by_ref.setdefault(ref or "", cid) == cid:
                ids.add(cid)
        known = sorted(ids.difference(self.state))
        for cid, name, company, ref, cartera_id, region_id, notes in bulk.rows_where_in(
            self.session,
            select(
                Contact.id,
                Contact.name,
                Contact.company,
                Contact.external_ref,
                Contact.cartera_id,
                Contact.region_id,
                Contact.notes,
            ),
            Contact.id,
            known,
        ):
            self.state[cid] = _State(
                name, company, ref, cartera_id, set(), region_id=region_id, notes=notes
            )
            self.ids[cid] = cid
        for cid, kind, value in bulk.rows_where_in(
            self.session,
            select(ContactIdentity.contact_id, ContactIdentity.kind, ContactIdentity.value),
            ContactIdentity.contact_id,
            known,
        ):
            self.state[cid].pairs.add((kind, value))
        if not self.actor.sees_all:
            shown = {
                cid
                for (cid,) in bulk.rows_where_in(
                    self.session,
                    select(Contact.id).where(visible_contacts(self.actor)),
                    Contact.id,
                    known,
                )
            }
            for cid in known:
                self.state[cid].visible = cid in shown

    def apply(self, row: _Row) -> None:
        target: int | None = None
        if row.cartera is not None:
            found = self.carteras.get(name_key(row.cartera))
            if found is None:
                raise _Reject(
                    "cartera",
                    f"no cartera named {row.cartera!r}",
                    "cartera.unknown_name",
                    name=row.cartera,
                )
            target = found[0]
        region_id: int | None = None
        if row.region is not None:
            found_region = self.regions.get(name_key(row.region))
            if found_region is None:
                raise _Reject(
                    "region",
                    f"no region named {row.region!r}",
                    "region.unknown_name",
                    name=row.region,
                )
            region_id = found_region
        matches = {self.by_pair[p] for p in row.pairs if p in self.by_pair}
        if row.ref in self.by_ref:
            matches.add(self.by_ref[row.ref or ""])
        if len(matches) > 1:
            raise _Reject(
                None,
                "its phones, emails and external_ref belong to different contacts",
                "row.several_contacts",
            )
        if not matches:
            key: Key = ("new", len(self.new_keys))
            self.new_keys.append(key)
            self.state[key] = _State(
                row.name,
                row.company,
                row.ref,
                target,
                set(row.pairs),
                new_pairs=list(row.pairs),
                notes=row.notes,
            )
            self._set_region(self.state[key], region_id)
            self._index(key, row)
            self.report.created += 1
            return
        self._update(matches.pop(), row, target, region_id)

    def _set_region(self, st: _State, region_id: int | None) -> bool:
        """Apply a row's region (None: the cell was empty); True when it changed."""
        if region_id is None:
            return False
        own = None if region_id == self.default_region.get(st.cartera_id or -1) else region_id
        if own == st.region_id:
            return False
        st.region_id = own
        return True

    def _update(self, key: Key, row: _Row, target: int | None, region_id: int | None) -> None:
        st = self.state[key]
        if not st.visible:
            raise _Reject(
                None,
                "it matches a contact of a cartera you do not hold",
            )
        if row.ref and st.ref and row.ref != st.ref:
            raise _Reject(
                "external_ref",
                f"the matching contact has external_ref {st.ref!r}",
                "row.other_ref",
                ref=st.ref,
            )
        moved = target is not None and st.cartera_id is not None and target != st.cartera_id
        if moved and not self.move:
            raise _Reject(
                "cartera",
                "the contact is in another cartera (import with move)",
                "row.in_other_cartera",
            )
        changed = False
        if isinstance(key, int) and row.name != st.name:
            first = self.renames.get(key)
            self.renames[key] = (row.line, first[1] if first else st.name, row.name)
        for attr, value in (
            ("name", row.name),
            ("company", row.company),
            ("ref", row.ref),
            ("notes", row.notes),
        ):
            if value is not None and getattr(st, attr) != value:
                setattr(st, attr, value)
                changed = True
        fresh = [p for p in row.pairs if p not in st.pairs]
        st.pairs.update(fresh)
        st.new_pairs.extend(fresh)
        if target is not None and target != st.cartera_id:
            if moved:
                self.moves.append((key, st.cartera_id, target))
            st.cartera_id = target
            changed = True
        changed = self._set_region(st, region_id) or changed
        self._index(key, row)
        st.dirty = st.dirty or changed
        if moved:
            self.report.moved += 1
        elif changed or fresh:
            self.report.updated += 1
        else:
            self.report.unchanged += 1

    def _index(self, key: Key, row: _Row) -> None:
        self.touched[key] = None
        for pair in row.pairs:
            self.by_pair[pair] = key
        if row.ref:
            self.by_ref[row.ref] = key

    def _values(self, key: Key) -> tuple[Any, ...]:
        """The contact's columns (CONTACT_COLUMNS' order) as this file leaves them."""
        st = self.state[key]
        return (
            st.name,
            st.company,
            st.ref,
            st.notes,
            st.cartera_id,
            st.region_id,
            search_key(st.name, st.company, st.ref),
        )

    def write(self, now: datetime) -> None:
        """Write what the rows applied since the last call created or added: new contacts,
        then new identities (on PostgreSQL while the next rows are parsed, see
        bulk.Writes). A contact written and then changed by a later row is saved again by
        :meth:`finish`."""
        fresh = self.new_keys[self.new_written :]
        self.new_written = len(self.new_keys)
        created = self.writes.insert(
            Contact,
            CONTACT_COLUMNS,
            [self._values(k) for k in fresh],
            same={"created_at": now, "updated_at": now},
            ids=True,
        )
        for key, cid in zip(fresh, created, strict=True):
            self.ids[key] = cid
            self.state[key].dirty = False
        identities = []
        for key in self.touched:
            st = self.state[key]
            cid = self.ids[key]
            identities += [(cid, kind, value) for kind, value in st.new_pairs[st.written :]]
            st.written = len(st.new_pairs)
        self.touched.clear()
        self.writes.insert(
            ContactIdentity, ("contact_id", "kind", "value"), identities, same={"created_at": now}
        )

    def finish(self, now: datetime) -> dict[Key, int]:
        """Wait for the last rows written; save the contacts changed since written (every
        existing one a row changed). The id of every contact the rows named."""
        self.writes.close()
        dirty = [k for k, st in self.state.items() if st.dirty]
        for chunk in _chunks(dirty):
            self.session.execute(
                update(Contact),
                [
                    {
                        **dict(zip(CONTACT_COLUMNS, self._values(k), strict=True)),
                        "updated_at": now,
                        "id": self.ids[k],
                    }
                    for k in chunk
                ],
            )
        return self.ids


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _cycle_collector_paused(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run *function* with Python's cycle collector paused. An import keeps a few objects
    per row until its end and frees none on the way, so each collection walked them all
    again: about a quarter of a 100k-row import's CPU. Cycles left meanwhile are collected
    once it is back on."""

    @functools.wraps(function)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        was_on = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_on:
                gc.enable()

    return run


@_cycle_collector_paused
def import_contacts(
    session: Session,
    actor: Actor,
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    region: str,
    move: bool = True,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Create or update contacts from CSV rows; see the module docstring.

    Rows match existing contacts by external_ref, then by phone or email. A row naming a
    cartera puts the contact there (a move when it was in another, if *move*).

    :raise Invalid: the header is wrong (nothing is imported).
    :raise Forbidden: agents cannot import.
    """
    require_manager(actor)
    importer = _Importer(session, actor, move)
    report = importer.report
    lines = list(rows)  # a file the csv module cannot read fails here, before any write
    now = utcnow()
    try:
        for start in range(0, len(lines), CHUNK):
            _import_chunk(importer, lines[start : start + CHUNK], region, progress)
            importer.write(now)
        ids = importer.finish(now)
    except BaseException:
        with contextlib.suppress(Exception):  # the error being raised says more
            importer.writes.close()  # no COPY left running under the caller's rollback
        raise
    report.rejected = len(report.errors)
    report.errors.sort(key=lambda e: e.row)
    report.renamed = sorted(
        (
            Renamed(line, contact_id, before, after)
            for contact_id, (line, before, after) in importer.renames.items()
            if before != after
        ),
        key=lambda r: r.row,
    )
    names = dict(importer.carteras.values())
    report.moves = [
        Moved(ids.get(key), importer.state[key].name, names.get(old or -1), names.get(new))
        for key, old, new in importer.moves
    ]
    _audit(session, actor, importer, ids)
    return report


def _import_chunk(
    importer: _Importer,
    lines: Sequence[tuple[int, dict[str, str]]],
    region: str,
    progress: Callable[[int], object] | None,
) -> None:
    """Parse and apply some rows of the file, after looking up what they may match."""
    report = importer.report
    parsed: list[_Row] = []
    for line, raw in lines:
        report.rows += 1
        try:
            parsed.append(_parse(line, raw, region))
        except _Reject as exc:
            report.errors.append(RowError(line, exc.field, exc.message, exc.rule, exc.params))
        if progress is not None:
            progress(1)
    importer.preload(parsed)
    for row in parsed:
        try:
            importer.apply(row)
        except _Reject as exc:
            report.errors.append(RowError(row.line, exc.field, exc.message, exc.rule, exc.params))


def _audit(session: Session, actor: Actor, importer: _Importer, ids: dict[Key, int]) -> None:
    report = importer.report
    counts = {
        k: getattr(report, k)
        for k in ("rows", "created", "updated", "moved", "unchanged", "rejected")
    }
    audit.record(session, actor, "imported", "contact", None, "CSV import", after=counts)
    names = dict(importer.carteras.values())
    now = utcnow()
    renames = [
        {
            "occurred_at": now,
            "actor_user_id": actor.user_id,
            "actor_name": actor.name,
            "event": "updated",
            "resource_type": "contact",
            "resource_id": contact_id,
            "resource_name": after,
            "related_name": None,
            "related_id": None,
            "search_key": search_key(actor.name, after, before),
            "before": {"name": before},
            "after": {"name": after},
            "details": {"source": "import", "row": line},
            "request_id": actor.request_id,
        }
        for contact_id, (line, before, after) in importer.renames.items()
        if before != after
    ]
    for chunk in _chunks(renames):
        session.execute(insert(AuditEvent), chunk, execution_options={"render_nulls": True})
    moves = [
        {
            "occurred_at": now,
            "actor_user_id": actor.user_id,
            "actor_name": actor.name,
            "event": "contact_moved",
            "resource_type": "cartera",
            "resource_id": new,
            "resource_name": names.get(new),
            "related_name": importer.state[key].name,
            "related_id": ids[key],
            "search_key": search_key(actor.name, names.get(new), importer.state[key].name),
            "before": {"contact_id": ids[key], "cartera_id": old, "cartera": names.get(old or -1)},
            "after": {"contact_id": ids[key], "cartera_id": new, "cartera": names.get(new)},
            "details": {"source": "import"},
            "request_id": actor.request_id,
        }
        for key, old, new in importer.moves
    ]
    for chunk in _chunks(moves):
        session.execute(insert(AuditEvent), chunk, execution_options={"render_nulls": True})


def export_rows(
    session: Session, actor: Actor, filters: ContactFilters | None = None, *, region: str = "MX"
) -> Iterator[list[tuple[Any, ...]]]:
    """The visible contacts matching *filters* (those the list shows), as batches of rows in
    COLUMNS' order, by id (keyset paging), cells spreadsheet-safe.

    :raise Invalid: a bad filter (an unknown region), at once: before anything is streamed.
    """
    condition = contacts.where(session, actor, filters or ContactFilters(), region)
    return _batches(session, condition)


def _batches(session: Session, condition: Any) -> Iterator[list[tuple[Any, ...]]]:
    last = 0
    while True:
        rows = session.execute(
            select(
                Contact.id,
                Contact.name,
                Contact.external_ref,
                Contact.company,
                Contact.notes,
                Cartera.name,
                Region.name,
            )
            .outerjoin(Cartera, Contact.cartera_id == Cartera.id)
            .outerjoin(Region, Region.id == func.coalesce(Contact.region_id, Cartera.region_id))
            .where(Contact.id > last, condition)
            .order_by(Contact.id)
            .limit(2000)
        ).all()
        if not rows:
            return
        identities: dict[int, dict[str, list[str]]] = {}
        for cid, kind, value in session.execute(
            select(ContactIdentity.contact_id, ContactIdentity.kind, ContactIdentity.value)
            .where(ContactIdentity.contact_id.in_([r[0] for r in rows]))
            .order_by(ContactIdentity.id)
        ):
            identities.setdefault(cid, {}).setdefault(kind, []).append(value)
        batch = []
        for cid, name, ref, company, notes, cartera, region_name in rows:
            found = identities.get(cid, {})
            batch.append(
                tuple(
                    spreadsheet.row(
                        (
                            name,
                            ";".join(found.get(PHONE, [])),
                            ";".join(found.get(EMAIL, [])),
                            ref,
                            company,
                            notes,
                            cartera,
                            region_name,
                        )
                    )
                )
            )
        yield batch
        last = rows[-1][0]


def header(spanish: bool) -> tuple[str, ...]:
    """The export's header: the import's column names, or their Spanish names (which the
    import also reads)."""
    return tuple(SPANISH[c] for c in COLUMNS) if spanish else COLUMNS


def export_csv(
    session: Session,
    actor: Actor,
    filters: ContactFilters | None = None,
    *,
    region: str = "MX",
    spanish: bool = False,
    bom: bool = False,
) -> Iterator[str]:
    """The contacts of :func:`export_rows` as CSV text chunks, header first; *bom* starts
    the text with a UTF-8 byte order mark (so spreadsheets read the accents right).

    :raise Invalid: a bad filter, when called (not while the chunks are read).
    """
    return _csv_chunks(export_rows(session, actor, filters, region=region), spanish, bom)


def _csv_chunks(
    batches: Iterator[list[tuple[Any, ...]]], spanish: bool, bom: bool
) -> Iterator[str]:
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header(spanish))
    for batch in batches:
        writer.writerows(batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def export_xlsx(
    session: Session,
    actor: Actor,
    filters: ContactFilters | None = None,
    *,
    region: str = "MX",
    spanish: bool = True,
) -> bytes:
    """The contacts of :func:`export_rows` as an Excel workbook (openpyxl, write-only)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def cell(value: Any) -> Any:
        # A worksheet cannot hold C0 control characters (openpyxl refuses the cell): a name
        # stored with one (an escape pasted from a terminal) is exported without it.
        if value is None:
            return ""
        return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value

    rows = export_rows(session, actor, filters, region=region)
    first = next(rows, [])  # a bad filter fails here, before the workbook exists
    book = Workbook(write_only=True)
    out = io.BytesIO()
    sheet = book.create_sheet("Contactos" if spanish else "Contacts")
    try:
        sheet.append(list(header(spanish)))
        for batch in itertools.chain([first], rows):
            for row in batch:
                sheet.append([cell(value) for value in row])
    finally:
        book.save(out)  # also on failure: a write-only sheet left unsaved errs when collected
    return out.getvalue()
