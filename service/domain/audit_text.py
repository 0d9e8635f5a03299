"""The audit log in words: one sentence per event with names instead of ids, and each changed
field as "Etiqueta: antes → después". Pure functions: no database and no Flask here (the
caller resolves the ids :func:`wanted` lists, see ``audit.describe_all``).

Spanish is the source language. Other languages come from the *gettext*/*ngettext* the edge
passes in :class:`Words` (flask_babel's have the same signatures): nested pieces (labels, yes
and no, role names, plurals) are translated where they are built, which a (template, params)
pair handed to the edge could not do without translating its params again one by one.
pybabel extracts the texts from here too (babel.cfg): the tables' ``N_`` marks and the
sentences' ``ctx._``/``ctx.ngettext`` calls, always with literal strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from service.domain.identity import display_phone
from service.models import AuditEvent


def N_(text: str) -> str:  # noqa: N802  (the marker pybabel extracts by default)
    """Mark *text* for the catalog; it is translated later, where it is used."""
    return text


def _spanish_gettext(text: str, **variables: Any) -> str:
    return text % variables if variables else text


def _spanish_ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    return (singular if num == 1 else plural) % {"num": num, **variables}


@dataclass(frozen=True)
class Words:
    """How sentences are translated: flask_babel's ``gettext``/``ngettext`` on the pages,
    the Spanish source text (the default) for the API's ``summary`` and the CSV."""

    gettext: Callable[..., str] = _spanish_gettext
    ngettext: Callable[..., str] = _spanish_ngettext


SPANISH: Final = Words()
KINDS: Final = ("team", "agent", "cartera", "region", "user", "contact")
# Ids in before/after/details and the kind of row they name.
ID_FIELDS: Final = {
    "team_id": "team",
    "agent_id": "agent",
    "cartera_id": "cartera",
    "region_id": "region",
    "parent_id": "region",
    "user_id": "user",
    "contact_id": "contact",
    "from_agent_id": "agent",
    "to_agent_id": "agent",
}
LIST_FIELDS: Final = {
    "team_ids": "team",
    "cartera_ids": "cartera",
    "granted": "cartera",
    "revoked": "cartera",
}
# A field shown through its stored name instead (the name at the time of the event).
SHOWN_AS: Final = {"region_id": "region", "parent_id": "parent", "cartera_id": "cartera"}
EVENT_LABELS: Final = {
    "created": N_("Creado"),
    "updated": N_("Actualizado"),
    "deleted": N_("Eliminado"),
    "activated": N_("Activado"),
    "deactivated": N_("Desactivado"),
    "contact_added": N_("Contacto agregado"),
    "contact_removed": N_("Contacto quitado"),
    "contact_moved": N_("Contacto movido"),
    "imported": N_("Importación"),
    "handover": N_("Traspaso"),
}
TYPE_LABELS: Final = {
    "team": N_("equipo"),
    "agent": N_("agente"),
    "cartera": N_("cartera"),
    "contact": N_("contacto"),
    "region": N_("región"),
    "token": N_("token"),
    "user": N_("usuario"),
    "inbox": N_("mensaje recibido"),
    "outbox": N_("mensaje enviado"),
}
# "the team Norte", as the object of a generic sentence.
THE: Final = {
    "team": N_("el equipo %(name)s"),
    "agent": N_("el agente %(name)s"),
    "cartera": N_("la cartera %(name)s"),
    "contact": N_("el contacto %(name)s"),
    "region": N_("la región %(name)s"),
    "token": N_("el token «%(name)s»"),
    "user": N_("el usuario %(name)s"),
    "inbox": N_("el mensaje recibido %(name)s"),
    "outbox": N_("el mensaje enviado %(name)s"),
}
# People take Spanish's personal "a": "desactivó al agente Luis".
PERSONAL: Final = {
    "agent": N_("al agente %(name)s"),
    "user": N_("al usuario %(name)s"),
    "contact": N_("al contacto %(name)s"),
}
GENERIC: Final = {
    "created": N_("%(actor)s creó %(what)s"),
    "updated": N_("%(actor)s cambió %(what)s"),
    "deleted": N_("%(actor)s eliminó %(what)s"),
    "activated": N_("%(actor)s activó %(what)s"),
    "deactivated": N_("%(actor)s desactivó %(what)s"),
}
LABELS: Final = {
    "name": N_("Nombre"),
    "icon": N_("Ícono"),
    "color": N_("Color"),
    "region": N_("Región"),
    "region_id": N_("Región"),
    "description": N_("Descripción"),
    "team_id": N_("Equipo"),
    "agent_id": N_("Agente"),
    "active": N_("Activo"),
    "owner_timeout_seconds": N_("Espera del dueño"),
    "business_hours": N_("Horario de atención"),
    "phones": N_("Teléfonos"),
    "emails": N_("Correos"),
    "external_ref": N_("Referencia externa"),
    "company": N_("Empresa"),
    "notes": N_("Notas"),
    "cartera": N_("Cartera"),
    "cartera_id": N_("Cartera"),
    "cartera_ids": N_("Carteras"),
    "carteras": N_("Carteras"),
    "contact_id": N_("Contacto"),
    "rocketchat_department_id": N_("Departamento de Rocket.Chat"),
    "email": N_("Correo"),
    "rocketchat_user_id": N_("Id de usuario en Rocket.Chat"),
    "rocketchat_username": N_("Usuario de Rocket.Chat"),
    "team_ids": N_("Equipos"),
    "max_open_chats": N_("Máximo de chats abiertos"),
    "parent": N_("Macrorregión"),
    "parent_id": N_("Macrorregión"),
    "role": N_("Rol"),
    "all_carteras": N_("Todas las carteras"),
    "password": N_("Contraseña"),
    "user_id": N_("Usuario"),
    "prefix": N_("Prefijo"),
    "revoked": N_("Revocado"),
    "status": N_("Estado"),
    "last_error": N_("Último error"),
    "template": N_("Plantilla"),
    "language": N_("Idioma"),
    "replaces": N_("Reemplaza al mensaje"),
    "deactivate_agent": N_("Desactivar al agente"),
    "open_conversations": N_("Conversaciones abiertas"),
}
FEMININE: Final = {("cartera", "active"): N_("Activa")}
ROLES: Final = {
    "admin": N_("administrador"),
    "coordinator": N_("coordinador"),
    "agent": N_("agente"),
}
# Weekdays of business hours (routing.DAYS), short.
DAYS: Final = {
    "mon": N_("lun"),
    "tue": N_("mar"),
    "wed": N_("mié"),
    "thu": N_("jue"),
    "fri": N_("vie"),
    "sat": N_("sáb"),
    "sun": N_("dom"),
}
EMPTY: Final = "—"


@dataclass(frozen=True)
class Names:
    """Today's names of the rows events mention by id, per kind (see :data:`KINDS`), and the
    carteras' icons. A missing id is a row that no longer exists."""

    by_kind: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    icons: Mapping[int, str] = field(default_factory=dict)

    def get(self, kind: str, row_id: int | None) -> str | None:
        return None if row_id is None else self.by_kind.get(kind, {}).get(row_id)


NO_NAMES: Final = Names()


@dataclass(frozen=True)
class Change:
    """One field of an event; *before* is None for a new value, *after* for a gone one."""

    field: str
    label: str
    before: str | None
    after: str | None

    def line(self) -> str:
        if self.before is None:
            return f"{self.label}: {self.after}"
        if self.after is None:
            return f"{self.label}: {self.before}"
        return f"{self.label}: {self.before} → {self.after}"


@dataclass(frozen=True)
class Readable:
    summary: str
    changes: tuple[Change, ...]
    # the ids the text resolved, by kind: {"team": {"3": "Norte"}}
    names: dict[str, dict[str, str]]

    def lines(self) -> list[str]:
        return [change.line() for change in self.changes]


def _ids(value: Any) -> list[int]:
    """The ids in *value*: an int (never a bool), or a list of them."""
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, int) and not isinstance(v, bool)]


def wanted(events: Iterable[AuditEvent]) -> dict[str, set[int]]:
    """The ids to resolve to names for *events*, by kind: one query per kind, not per event."""
    found: dict[str, set[int]] = {kind: set() for kind in KINDS}
    for event in events:
        found["user"].update(_ids(event.actor_user_id))
        if event.resource_type in found:
            found[event.resource_type].update(_ids(event.resource_id))
        found["contact"].update(_ids(event.related_id))
        for values in (event.before, event.after, event.details):
            if not isinstance(values, dict):
                continue
            for key, value in values.items():
                kind = ID_FIELDS.get(key) or LIST_FIELDS.get(key)
                if kind is not None:
                    found[kind].update(_ids(value))
            # a user's access and a handover list carteras as {"id", "name"}
            for row in _dicts(values.get("carteras")):
                found["cartera"].update(_ids(row.get("id")))
    return {kind: ids for kind, ids in found.items() if ids}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class _Context:
    """Translation and name look-ups for one event, remembering the ids it resolved."""

    def __init__(self, words: Words, names: Names) -> None:
        self.words, self.names = words, names
        self.used: dict[str, dict[str, str]] = {}

    def _(self, text: str, **variables: Any) -> str:
        return self.words.gettext(text, **variables)

    def ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> str:
        return self.words.ngettext(singular, plural, num, **variables)

    def name(self, kind: str, row_id: Any, stored: Any = None, icon: Any = None) -> str:
        """The name of a row: *stored* (as it was then) when given, else today's, else #id;
        a cartera's after its *icon* (the one stored, else today's)."""
        ids = _ids(row_id)
        found = self.names.get(kind, ids[0]) if ids else None
        if found is not None:
            self.used.setdefault(kind, {})[str(ids[0])] = found
        text = str(stored) if stored not in (None, "") else found
        if text is None:
            text = f"#{ids[0]}" if ids else EMPTY
        if kind == "cartera":
            icon = icon or (self.names.icons.get(ids[0]) if ids else None)
            if icon and not text.startswith(str(icon)):
                text = f"{icon} {text}"
        return text

    def yes_no(self, value: bool) -> str:
        return self._("sí") if value else self._("no")


def event_label(code: str, words: Words = SPANISH) -> str:
    return words.gettext(EVENT_LABELS[code]) if code in EVENT_LABELS else code


def type_label(code: str, words: Words = SPANISH) -> str:
    return words.gettext(TYPE_LABELS[code]) if code in TYPE_LABELS else code


def resource_text(event: AuditEvent, names: Names = NO_NAMES, words: Words = SPANISH) -> str:
    """The kind and the resource, and the contact of a membership: "cartera 💎 Premium · Ana"."""
    ctx = _Context(words, names)
    parts = [type_label(event.resource_type, words)]
    if event.resource_name or event.resource_id is not None:
        parts.append(ctx.name(event.resource_type, event.resource_id, event.resource_name))
    text = " ".join(parts)
    return f"{text} · {event.related_name}" if event.related_name else text


def describe(event: AuditEvent, names: Names = NO_NAMES, words: Words = SPANISH) -> Readable:
    """The sentence and the changed fields of one event. Unknown events, types or fields
    and missing values give a plainer sentence, never an error."""
    ctx = _Context(words, names)
    summary = _summary(ctx, event)
    return Readable(summary=summary, changes=tuple(_changes(ctx, event)), names=ctx.used)


# ---- sentences --------------------------------------------------------------------------


def _summary(ctx: _Context, event: AuditEvent) -> str:
    if event.event.startswith("contact_") and event.resource_type == "cartera":
        return _membership(ctx, event)
    special = {
        "imported": _imported,
        "handover": _handover,
        "created": _created,
        "updated": _updated,
        "deleted": _deleted,
    }.get(event.event)
    text = special(ctx, event) if special else None
    return text or _generic(ctx, event)


def _resource(ctx: _Context, event: AuditEvent) -> str:
    return ctx.name(event.resource_type, event.resource_id, event.resource_name)


def _what(ctx: _Context, event: AuditEvent, nouns: Mapping[str, str] = THE) -> str:
    name = _resource(ctx, event)
    noun = nouns.get(event.resource_type) or THE.get(event.resource_type)
    if noun is None:
        return f"{type_label(event.resource_type, ctx.words)} {name}"
    return ctx._(noun, name=name)


def _generic(ctx: _Context, event: AuditEvent) -> str:
    personal = event.event in ("activated", "deactivated")
    what = _what(ctx, event, PERSONAL if personal else THE)
    if event.event in GENERIC:
        return ctx._(GENERIC[event.event], actor=event.actor_name, what=what)
    return ctx._(
        "%(actor)s: %(event)s en %(what)s",
        actor=event.actor_name,
        event=event_label(event.event, ctx.words),
        what=what,
    )


def _membership(ctx: _Context, event: AuditEvent) -> str:
    before, after, details = _dict(event.before), _dict(event.after), _dict(event.details)
    contact = ctx.name("contact", event.related_id or after.get("contact_id"), event.related_name)
    here = _resource(ctx, event)
    if event.event == "contact_added":
        text = ctx._(
            "%(actor)s agregó a %(contact)s a la cartera %(cartera)s",
            actor=event.actor_name,
            contact=contact,
            cartera=here,
        )
    elif event.event == "contact_removed":
        text = ctx._(
            "%(actor)s quitó a %(contact)s de la cartera %(cartera)s",
            actor=event.actor_name,
            contact=contact,
            cartera=here,
        )
    else:
        text = ctx._(
            "%(actor)s movió a %(contact)s de %(origin)s a %(target)s",
            actor=event.actor_name,
            contact=contact,
            origin=ctx.name("cartera", before.get("cartera_id"), before.get("cartera")),
            target=ctx.name("cartera", after.get("cartera_id"), after.get("cartera") or here),
        )
    if details.get("source") == "import":
        return ctx._("%(sentence)s (importación CSV)", sentence=text)
    if details.get("reason") == "cartera_deleted":
        return ctx._("%(sentence)s al eliminar la cartera", sentence=text)
    return text


def _count(values: Mapping[str, Any], key: str) -> int:
    value = values.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _imported(ctx: _Context, event: AuditEvent) -> str:
    counts = _dict(event.after)
    n = {key: _count(counts, key) for key in ("created", "updated", "moved", "unchanged")}
    rejected = _count(counts, "rejected")
    parts = [ctx.ngettext("%(num)s fila", "%(num)s filas", _count(counts, "rows"))]
    # written out one by one so that pybabel extracts each as a plural
    if n["created"]:
        parts.append(ctx.ngettext("%(num)s nuevo", "%(num)s nuevos", n["created"]))
    if n["updated"]:
        parts.append(ctx.ngettext("%(num)s actualizado", "%(num)s actualizados", n["updated"]))
    if n["moved"]:
        parts.append(ctx.ngettext("%(num)s movido", "%(num)s movidos", n["moved"]))
    if n["unchanged"]:
        parts.append(ctx.ngettext("%(num)s sin cambios", "%(num)s sin cambios", n["unchanged"]))
    if rejected:
        parts.append(ctx.ngettext("%(num)s rechazado", "%(num)s rechazados", rejected))
    return ctx._(
        "%(actor)s importó un CSV de contactos: %(counts)s",
        actor=event.actor_name,
        counts=", ".join(parts),
    )


def _handover(ctx: _Context, event: AuditEvent) -> str:
    details, after = _dict(event.details), _dict(event.after)
    rows = _dicts(details.get("carteras"))
    if rows:
        carteras = [ctx.name("cartera", r.get("id"), r.get("name")) for r in rows]
    else:
        carteras = [ctx.name("cartera", i) for i in _ids(_dict(event.before).get("cartera_ids"))]
    agent = _resource(ctx, event)
    listed, num = ", ".join(carteras), len(carteras)
    if num == 0:
        return ctx._(
            "%(actor)s hizo el traspaso de %(agent)s (no tenía carteras)",
            actor=event.actor_name,
            agent=agent,
        )
    target_id = after.get("agent_id")
    if target_id is None and not details.get("to_agent_name"):
        return ctx.ngettext(
            "%(actor)s quitó a %(agent)s la cartera %(carteras)s (queda con su equipo)",
            "%(actor)s quitó a %(agent)s %(num)s carteras (quedan con su equipo): %(carteras)s",
            num,
            actor=event.actor_name,
            agent=agent,
            carteras=listed,
        )
    return ctx.ngettext(
        "%(actor)s traspasó la cartera %(carteras)s de %(agent)s a %(target)s",
        "%(actor)s traspasó %(num)s carteras de %(agent)s a %(target)s: %(carteras)s",
        num,
        actor=event.actor_name,
        agent=agent,
        target=ctx.name("agent", target_id, details.get("to_agent_name")),
        carteras=listed,
    )


def _created(ctx: _Context, event: AuditEvent) -> str | None:
    after, details = _dict(event.after), _dict(event.details)
    kind, actor, name = event.resource_type, event.actor_name, _resource(ctx, event)
    if kind == "cartera":
        name = ctx.name("cartera", event.resource_id, event.resource_name, after.get("icon"))
        parts = []
        if after.get("team_id") is not None:
            parts.append(ctx._("equipo %(name)s", name=ctx.name("team", after["team_id"])))
        if after.get("agent_id") is not None:
            parts.append(ctx._("agente %(name)s", name=ctx.name("agent", after["agent_id"])))
        if not parts:
            return None
        return ctx._(
            "%(actor)s creó la cartera %(name)s (%(details)s)",
            actor=actor,
            name=name,
            details=", ".join(parts),
        )
    if kind == "contact" and str(details.get("source", "")).startswith("inbox:"):
        return ctx._(
            "%(actor)s creó el contacto %(name)s a partir de un mensaje recibido",
            actor=actor,
            name=name,
        )
    if kind == "region" and after.get("parent"):
        return ctx._(
            "%(actor)s creó la región %(name)s en %(parent)s",
            actor=actor,
            name=name,
            parent=ctx.name("region", after.get("parent_id"), after["parent"]),
        )
    if kind == "user" and after.get("role") in ROLES:
        role = ROLES[after["role"]]  # a name, not a literal, inside _(): pybabel skips it
        return ctx._(
            "%(actor)s creó el usuario %(name)s (%(role)s)",
            actor=actor,
            name=name,
            role=ctx._(role),
        )
    if kind == "token" and after.get("user_id") is not None:
        return ctx._(
            "%(actor)s creó el token «%(name)s» para %(user)s",
            actor=actor,
            name=name,
            user=ctx.name("user", after["user_id"]),
        )
    if kind == "outbox" and after.get("template"):
        return ctx._(
            "%(actor)s envió la plantilla «%(template)s»", actor=actor, template=after["template"]
        )
    return None


def _updated(ctx: _Context, event: AuditEvent) -> str | None:
    before, after, details = _dict(event.before), _dict(event.after), _dict(event.details)
    if event.resource_type == "user":
        if after == {"password": "changed"}:
            return ctx._(
                "%(actor)s cambió la contraseña de %(user)s",
                actor=event.actor_name,
                user=_resource(ctx, event),
            )
        if "carteras" in after or "all_carteras" in after:
            return _access(ctx, event, before, after)
    if event.resource_type == "inbox" and after.get("status") == "skipped":
        return ctx._(
            "%(actor)s descartó el mensaje recibido %(name)s",
            actor=event.actor_name,
            name=_resource(ctx, event),
        )
    fields = [k for k in _keys(before, after) if k not in SHOWN_AS or SHOWN_AS[k] not in after]
    if fields == ["name"] and before.get("name"):
        text = ctx._(
            "%(actor)s renombró %(what)s a %(new)s",
            actor=event.actor_name,
            what=ctx._(THE.get(event.resource_type, "%(name)s"), name=before["name"]),
            new=after.get("name") or EMPTY,
        )
    elif fields:
        labels = [_label(ctx, event.resource_type, k) for k in fields]
        text = ctx._(
            "%(actor)s cambió %(what)s: %(fields)s",
            actor=event.actor_name,
            what=_what(ctx, event),
            fields=", ".join(label[:1].lower() + label[1:] for label in labels),
        )
    else:
        return None
    if details.get("source") == "import":
        return ctx._(
            "%(sentence)s (importación CSV, fila %(row)s)",
            sentence=text,
            row=details.get("row", "?"),
        )
    return text


def _access(ctx: _Context, event: AuditEvent, before: dict[str, Any], after: dict[str, Any]) -> str:
    """Grants: who got or lost which carteras, or all of them."""
    user, actor = _resource(ctx, event), event.actor_name
    had = {r.get("id"): r for r in _dicts(before.get("carteras"))}
    has = {r.get("id"): r for r in _dicts(after.get("carteras"))}

    def names(rows: Iterable[dict[str, Any]]) -> str:
        return ", ".join(ctx.name("cartera", r.get("id"), r.get("name")) for r in rows)

    was_all, is_all = bool(before.get("all_carteras")), bool(after.get("all_carteras"))
    if is_all and not was_all:
        return ctx._("%(actor)s dio a %(user)s acceso a todas las carteras", actor=actor, user=user)
    if was_all and not is_all:
        if not has:
            return ctx._(
                "%(actor)s quitó a %(user)s el acceso a todas las carteras", actor=actor, user=user
            )
        return ctx.ngettext(
            "%(actor)s limitó a %(user)s a %(num)s cartera: %(carteras)s",
            "%(actor)s limitó a %(user)s a %(num)s carteras: %(carteras)s",
            len(has),
            actor=actor,
            user=user,
            carteras=names(has.values()),
        )
    granted = [r for k, r in has.items() if k not in had]
    revoked = [r for k, r in had.items() if k not in has]
    sentences = []
    if granted:
        sentences.append(
            ctx.ngettext(
                "%(actor)s dio a %(user)s acceso a %(num)s cartera: %(carteras)s",
                "%(actor)s dio a %(user)s acceso a %(num)s carteras: %(carteras)s",
                len(granted),
                actor=actor,
                user=user,
                carteras=names(granted),
            )
        )
    if revoked:
        sentences.append(
            ctx.ngettext(
                "%(actor)s quitó a %(user)s el acceso a %(num)s cartera: %(carteras)s",
                "%(actor)s quitó a %(user)s el acceso a %(num)s carteras: %(carteras)s",
                len(revoked),
                actor=actor,
                user=user,
                carteras=names(revoked),
            )
        )
    return ". ".join(sentences) if sentences else _generic(ctx, event)


def _deleted(ctx: _Context, event: AuditEvent) -> str | None:
    if event.resource_type == "token":
        return ctx._(
            "%(actor)s revocó el token «%(name)s»",
            actor=event.actor_name,
            name=_resource(ctx, event),
        )
    unassigned = _count(_dict(event.details), "contacts_unassigned")
    if event.resource_type == "cartera" and unassigned:
        return ctx.ngettext(
            "%(actor)s eliminó la cartera %(name)s; %(num)s contacto quedó sin cartera",
            "%(actor)s eliminó la cartera %(name)s; %(num)s contactos quedaron sin cartera",
            unassigned,
            actor=event.actor_name,
            name=_resource(ctx, event),
        )
    return None


# ---- changed fields ---------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return list(after) + [k for k in before if k not in after]


def _label(ctx: _Context, kind: str, key: str) -> str:
    label = FEMININE.get((kind, key)) or LABELS.get(key)
    return ctx._(label) if label else key


def _changes(ctx: _Context, event: AuditEvent) -> list[Change]:
    """Before → after of an update; the values set by a create or held at a delete."""
    if event.event.startswith("contact_") or event.event == "imported":
        return []  # the sentence says it all
    if event.event == "handover":
        return _handover_changes(ctx, event)
    before, after = _dict(event.before), _dict(event.after)
    shown = after if event.event != "deleted" else before
    changes = []
    both = event.before is not None and event.after is not None
    for key in _keys(before, after):
        if key in SHOWN_AS and SHOWN_AS[key] in shown:
            continue  # its name is there too
        if both and key in before and key in after and before[key] == after[key]:
            continue  # recorded for context, not changed
        label = _label(ctx, event.resource_type, key)
        old = _value(ctx, key, before.get(key)) if event.before is not None else None
        new = _value(ctx, key, after.get(key)) if event.after is not None else None
        if event.event in ("created", "deleted") and (
            key == "name" or shown.get(key) in (None, "", [], {})
        ):
            continue  # the name is in the sentence; empty fields say nothing
        if old is not None and old == new:
            continue  # "" and None, say: the same to the reader
        changes.append(Change(key, label, old, new))
    return changes


def _handover_changes(ctx: _Context, event: AuditEvent) -> list[Change]:
    details = _dict(event.details)
    changes = []
    if "deactivate_agent" in details:
        value = ctx.yes_no(bool(details["deactivate_agent"]))
        changes.append(
            Change("deactivate_agent", _label(ctx, "agent", "deactivate_agent"), None, value)
        )
    choice = details.get("open_conversations")
    if choice in ("leave", "reforward"):
        value = (
            ctx._("se quedan donde están")
            if choice == "leave"
            else ctx._("se reenvían al nuevo dueño")
        )
        label = _label(ctx, "agent", "open_conversations")
        changes.append(Change("open_conversations", label, None, value))
    return changes


def _value(ctx: _Context, key: str, value: Any) -> str:
    """A stored value as people read it: names for ids, sí/no, lists joined, "—" for none."""
    if key == "business_hours":
        return _hours(ctx, value)
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return ctx.yes_no(value)
    special = _SPECIAL.get(key)
    if special is not None:
        return special(ctx, value)
    if key in ID_FIELDS and _ids(value):
        return ctx.name(ID_FIELDS[key], value)
    if key in LIST_FIELDS and isinstance(value, list):
        return ", ".join(ctx.name(LIST_FIELDS[key], v) for v in value) or EMPTY
    return _plain(ctx, value)


def _plain(ctx: _Context, value: Any) -> str:
    if isinstance(value, bool):
        return ctx.yes_no(value)
    if isinstance(value, list):
        return ", ".join(_plain(ctx, v) for v in value) or EMPTY
    if isinstance(value, dict):
        if "name" in value:
            return str(value["name"])
        return ", ".join(f"{k}: {_plain(ctx, v)}" for k, v in value.items()) or EMPTY
    return EMPTY if value is None else str(value)


def _wait(ctx: _Context, value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return _plain(ctx, value)
    if value <= 0:
        return ctx._("sin límite (el dueño conserva la conversación)")
    hours, rest = divmod(value, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{seconds} s" if seconds else "")
    return ctx._(
        "%(time)s; si el dueño no responde, pasa al equipo", time=" ".join(p for p in parts if p)
    )


def _hours(ctx: _Context, value: Any) -> str:
    """``{"timezone", "weekly": {"mon": [["09:00", "18:00"]]}}`` as "lun–vie 09:00–18:00"."""
    if value is None:
        return ctx._("siempre abierta")
    weekly = value.get("weekly") if isinstance(value, dict) else None
    if not isinstance(weekly, dict):
        return _plain(ctx, value)
    runs: list[tuple[list[str], str]] = []
    for day in DAYS:
        ranges = weekly.get(day)
        if not ranges:
            continue
        text = ", ".join(
            "–".join(str(t) for t in pair) if isinstance(pair, list) else str(pair)
            for pair in (ranges if isinstance(ranges, list) else [ranges])
        )
        if runs and runs[-1][1] == text and _next_day(runs[-1][0][-1]) == day:
            runs[-1][0].append(day)
        else:
            runs.append(([day], text))
    if not runs:
        return ctx._("siempre cerrada")
    parts = [
        (ctx._(DAYS[days[0]]) + (f"–{ctx._(DAYS[days[-1]])}" if len(days) > 1 else "")) + f" {text}"
        for days, text in runs
    ]
    zone = value.get("timezone")
    listed = "; ".join(parts)
    return f"{listed} ({zone})" if zone else listed


def _next_day(day: str) -> str | None:
    order = list(DAYS)
    index = order.index(day) + 1
    return order[index] if index < len(order) else None


def _phones(ctx: _Context, value: Any) -> str:
    items = value if isinstance(value, list) else [value]
    return ", ".join(display_phone(str(v)) for v in items) or EMPTY


def _role(ctx: _Context, value: Any) -> str:
    return ctx._(ROLES[value]) if value in ROLES else _plain(ctx, value)


def _carteras(ctx: _Context, value: Any) -> str:
    rows = _dicts(value)
    if not rows:
        return _plain(ctx, value)
    return ", ".join(ctx.name("cartera", r.get("id"), r.get("name")) for r in rows)


def _password(ctx: _Context, value: Any) -> str:
    return ctx._("cambiada") if value == "changed" else ctx._("(oculta)")


_SPECIAL: Final[dict[str, Callable[[_Context, Any], str]]] = {
    "owner_timeout_seconds": _wait,
    "phones": _phones,
    "role": _role,
    "carteras": _carteras,
    "password": _password,
}


def csv_header(tz: ZoneInfo, words: Words = SPANISH) -> tuple[str, ...]:
    """The columns of the audit's CSV export."""
    _ = words.gettext
    return (
        _("Fecha (%(zone)s)", zone=tz.key),
        _("Usuario"),
        _("Evento"),
        _("Recurso"),
        _("Resumen"),
        _("Cambios"),
    )


# ---- times ------------------------------------------------------------------------------


def local_time(at: datetime, tz: ZoneInfo) -> str:
    """*at* on the service's clock, to the minute: ``2026-11-25 13:57``."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def ago(at: datetime, now: datetime, words: Words = SPANISH) -> str | None:
    """ "hace 5 min" for the last day's events, where it helps; None for older ones."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    seconds = (now - aware).total_seconds()
    if seconds < -60 or seconds >= 86400:
        return None
    if seconds < 60:
        return words.gettext("hace un momento")
    if seconds < 3600:
        return words.ngettext("hace %(num)s min", "hace %(num)s min", int(seconds // 60))
    return words.ngettext("hace %(num)s h", "hace %(num)s h", int(seconds // 3600))
