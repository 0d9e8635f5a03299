"""Mapped objects read and written below the ORM's loading and flush, for the statements the
routing job runs on every message: the ORM's loading of a returned row, and its unit of work
for one changed column, cost the job more CPU than the statements themselves.

What comes out is what the ORM would have made: a persistent object in the session, as if
loaded (no history), and, once its changes are written, an object the session's flush has
nothing left to do for. Must not import Flask, an HTTP client or the queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.sql.schema import ColumnDefault

_Model = TypeVar("_Model")


@dataclass(frozen=True)
class _Shape:
    """What these functions need of a mapped class, read once per class."""

    columns: tuple[tuple[str, str], ...]  # (attribute, column key), in the table's order
    attributes: frozenset[str]  # the column attributes
    primary_key: tuple[str, ...]  # attributes
    # (attribute, Python default) of the columns given a value on every UPDATE
    # (``onupdate=utcnow``): the flush writes them with any change, so changes() does.
    on_update: tuple[tuple[str, ColumnDefault], ...]


_SHAPES: dict[type, _Shape] = {}


def _shape(model: type) -> _Shape:
    shape = _SHAPES.get(model)
    if shape is not None:
        return shape
    mapper: Mapper[Any] = inspect(model)
    columns = tuple((prop.key, prop.columns[0].key) for prop in mapper.column_attrs)
    on_update = []
    for attribute, key in columns:
        default = mapper.local_table.c[key].onupdate
        if default is None:
            continue
        if not isinstance(default, ColumnDefault) or not (default.is_scalar or default.is_callable):
            raise TypeError(f"{model.__name__}.{attribute}: only Python onupdate defaults")
        on_update.append((attribute, default))
    shape = _SHAPES[model] = _Shape(
        columns=columns,
        attributes=frozenset(attribute for attribute, _ in columns),
        primary_key=tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key),
        on_update=tuple(on_update),
    )
    return shape


def adopt(
    session: Session,
    model: type[_Model],
    row: Mapping[Any, Any],
    *,
    populate_existing: bool = False,
) -> _Model:
    """The persistent *model* object for *row* (each of its columns, read by a Core statement
    such as an ``UPDATE .. RETURNING``), in *session* as if the ORM had loaded it. An object
    of that identity in the session already is returned as it is, or, with
    *populate_existing* (as the ORM option of that name), takes *row*'s values.
    Relationships are not loaded (read when first used, as with ``lazyload``)."""
    shape = _shape(model)
    values = {attribute: row[key] for attribute, key in shape.columns}
    key = inspect(model).identity_key_from_primary_key([values[a] for a in shape.primary_key])
    existing = session.identity_map.get(key)
    if existing is not None:
        if populate_existing:
            for attribute, value in values.items():
                set_committed_value(existing, attribute, value)
        return existing  # type: ignore[no-any-return]
    made = model()
    instance_state(made).dict.update(values)
    # "All attribute history on the given instance will be reset as though the instance
    # were freshly loaded from a query" (SQLAlchemy's make_transient_to_detached); adding
    # it then makes it persistent without SQL.
    make_transient_to_detached(made)
    session.add(made)
    return made


def changes(obj: object) -> dict[str, Any]:
    """The column values of *obj* changed since it was loaded or written (what the flush
    would write, with the columns set on every update, such as ``updated_at``)."""
    shape = _shape(type(obj))
    state = instance_state(obj)
    found = {key: state.dict[key] for key in state.committed_state if key in shape.attributes}
    if found:
        for attribute, default in shape.on_update:
            if attribute not in found:
                found[attribute] = default.arg if default.is_scalar else default.arg(None)
    return found


def written(session: Session, obj: object, values: Mapping[str, Any]) -> None:
    """*values* of *obj* are in the database now (written by a Core statement in the
    session's transaction): they are taken as committed, and when *obj* has nothing else
    pending the session's flush leaves it alone (else every flush would walk the unit of
    work for it, to find nothing to write)."""
    for attribute, value in values.items():
        set_committed_value(obj, attribute, value)
    state = instance_state(obj)
    if state.modified and not state.committed_state:
        # What a flush does to the objects it wrote (UOWTransaction.finalize_flush_changes).
        state._commit_all(state.dict, session.identity_map)
