"""Contacts: create, change, delete, find (by name, phone in any written form, email, ref)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from service.domain import audit, regions
from service.domain.access import require_manager, visible_contacts
from service.domain.actor import Actor
from service.domain.carteras import get_cartera
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.identity import (
    EMAIL,
    PHONE,
    BadAddress,
    normalize_email,
    normalize_phone,
    phone_digits,
)
from service.domain.membership import assign
from service.domain.names import clean_name, fold, optional_text, search_key
from service.domain.pagination import Page, paginate
from service.models import Contact, ContactIdentity, Region

_PHONE_LIKE = re.compile(r"^[\d\s()+\-./]+$")


def values_of(contact: Contact, kind: str) -> list[str]:
    return [i.value for i in contact.identities if i.kind == kind]


def snapshot(contact: Contact) -> dict[str, Any]:
    return {
        "name": contact.name,
        "phones": values_of(contact, PHONE),
        "emails": values_of(contact, EMAIL),
        "external_ref": contact.external_ref,
        "company": contact.company,
        "notes": contact.notes,
        "cartera_id": contact.cartera_id,
        "region_id": contact.region_id,
        "region": contact.region.name if contact.region is not None else None,
    }


def normalize_identities(
    phones: Sequence[str] | None, emails: Sequence[str] | None, region: str
) -> list[tuple[str, str]]:
    """Canonical (kind, value) pairs, duplicates dropped, in the order given.

    :raise Invalid: naming every bad entry, e.g. ``phones[1]``.
    """
    pairs: list[tuple[str, str]] = []
    errors: dict[str, list[str]] = {}
    rules: dict[str, tuple[str, dict[str, Any]]] = {}
    for kind, field, values in ((PHONE, "phones", phones), (EMAIL, "emails", emails)):
        for index, raw in enumerate(values or []):
            try:
                value = normalize_phone(raw, region) if kind == PHONE else normalize_email(raw)
            except BadAddress as exc:
                errors[f"{field}[{index}]"] = [str(exc)]
                rules[f"{field}[{index}]"] = (exc.rule, dict(exc.params))
                continue
            if (kind, value) not in pairs:
                pairs.append((kind, value))
    if errors:
        error = Invalid(
            "Some phones or emails are not valid.", {"fields": errors}, rule="addresses.invalid"
        )
        error.field_rules.update(rules)
        raise error
    return pairs


def owners_of(session: Session, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Which contact holds each (kind, value) already."""
    if not pairs:
        return {}
    with session.no_autoflush:
        rows = session.execute(
            select(ContactIdentity.kind, ContactIdentity.value, ContactIdentity.contact_id).where(
                ContactIdentity.value.in_({v for _, v in pairs})
            )
        )
        wanted = set(pairs)
        return {(k, v): cid for k, v, cid in rows if (k, v) in wanted}


def _set_identities(session: Session, contact: Contact, pairs: list[tuple[str, str]]) -> None:
    taken = {
        pair: owner for pair, owner in owners_of(session, pairs).items() if owner != contact.id
    }
    if taken:
        raise Conflict(
            "Some phones or emails already belong to other contacts.",
            {
                "identities": [
                    {"kind": k, "value": v, "contact_id": cid} for (k, v), cid in taken.items()
                ]
            },
            rule="contact.address_taken",
        )
    keep = [i for i in contact.identities if (i.kind, i.value) in pairs]
    if len(keep) != len(contact.identities):
        contact.identities = keep
        session.flush()  # delete dropped rows before inserting, for the unique key
    have = {(i.kind, i.value) for i in keep}
    for kind, value in pairs:
        if (kind, value) not in have:
            contact.identities.append(ContactIdentity(kind=kind, value=value))


def _apply(session: Session, contact: Contact, data: Mapping[str, Any], region: str) -> None:
    if "name" in data:
        contact.name = clean_name(data["name"], max_length=200)
    if "external_ref" in data:
        ref = optional_text(data["external_ref"])
        with session.no_autoflush:
            owner = session.scalar(select(Contact.id).where(Contact.external_ref == ref))
        if ref is not None and owner is not None and owner != contact.id:
            raise Conflict(
                f"Another contact has external_ref {ref!r}.",
                {"field": "external_ref", "existing_id": owner},
                rule="contact.ref_taken",
                ref=ref,
            )
        contact.external_ref = ref
    for field in ("company", "notes"):
        if field in data:
            setattr(contact, field, optional_text(data[field]))
    if "region_id" in data:
        # its own region; None = follow its cartera's default (also after a move)
        contact.region_id = regions.resolve(session, "region_id", data["region_id"])
        contact.region = (
            session.get(Region, contact.region_id) if contact.region_id is not None else None
        )
    contact.search_key = search_key(contact.name, contact.company, contact.external_ref)
    if "phones" in data or "emails" in data:
        current = snapshot(contact)
        pairs = normalize_identities(
            data.get("phones", current["phones"]), data.get("emails", current["emails"]), region
        )
        _set_identities(session, contact, pairs)


def get_contact(session: Session, actor: Actor, contact_id: int) -> Contact:
    """A contact the actor may see.

    :raise NotFound: no such contact, or (for an agent) one outside its carteras, so that
        existence does not leak.
    """
    contact = session.scalar(
        select(Contact).where(Contact.id == contact_id, visible_contacts(actor))
    )
    if contact is None:
        raise NotFound(
            f"Contact {contact_id} does not exist.",
            {"contact_id": contact_id},
            rule="contact.not_found",
        )
    return contact


def search_condition(q: str, region: str) -> ColumnElement[bool]:
    """Name, company or reference containing *q*; an email containing it; or a phone whose
    digits contain *q*'s digits, or equal to *q* read as a phone in *region*."""
    text = q.strip()
    identity = [
        and_(
            ContactIdentity.kind == EMAIL,
            ContactIdentity.value.contains(text.lower(), autoescape=True),
        )
    ]
    digits = phone_digits(text)
    if len(digits) >= 3 and _PHONE_LIKE.match(text):
        identity.append(and_(ContactIdentity.kind == PHONE, ContactIdentity.value.contains(digits)))
        with contextlib.suppress(BadAddress):
            identity.append(
                and_(
                    ContactIdentity.kind == PHONE,
                    ContactIdentity.value == normalize_phone(text, region),
                )
            )
    return or_(
        Contact.search_key.contains(fold(text), autoescape=True),
        Contact.id.in_(select(ContactIdentity.contact_id).where(or_(*identity))),
    )


@dataclass(frozen=True)
class ContactFilters:
    q: str | None = None
    cartera_id: int | None = None
    unassigned: bool | None = None
    region_id: int | None = None  # own or the cartera's region; a macroregion includes its
    company: str | None = None  # the company contains it (case and accents ignored)


def where(session: Session, actor: Actor, filters: ContactFilters, region: str) -> Any:
    """SQL condition on Contact: visible to *actor* and matching *filters* (the list and
    the export show the same contacts)."""
    conditions: list[Any] = [visible_contacts(actor)]
    if filters.q and filters.q.strip():
        conditions.append(search_condition(filters.q, region))
    if filters.cartera_id is not None:
        conditions.append(Contact.cartera_id == filters.cartera_id)
    if filters.unassigned is True:
        conditions.append(Contact.cartera_id.is_(None))
    elif filters.unassigned is False:
        conditions.append(Contact.cartera_id.is_not(None))
    if filters.region_id is not None:
        within = regions.ids_within(session, filters.region_id)
        conditions.append(regions.contact_region_id().in_(within))
    if filters.company and filters.company.strip():
        conditions.append(Contact.company.icontains(filters.company.strip(), autoescape=True))
    return and_(*conditions)


def list_contacts(
    session: Session,
    actor: Actor,
    filters: ContactFilters,
    *,
    region: str,
    page: int,
    per_page: int,
) -> Page[Contact]:
    """Visible contacts matching the filters, by name."""
    stmt = select(Contact).where(where(session, actor, filters, region))
    return paginate(session, stmt.order_by(Contact.name, Contact.id), page, per_page)


def create_contact(
    session: Session, actor: Actor, data: Mapping[str, Any], *, region: str
) -> Contact:
    """Create a contact, optionally straight into a cartera (audited as created + added).

    :raise Invalid: bad phone/email (naming it), unknown cartera.
    :raise Conflict: a phone, email or external_ref already belongs to another contact.
    """
    require_manager(actor)
    contact = Contact(identities=[])
    _apply(session, contact, {"phones": [], "emails": [], **data}, region)
    cartera = _target(session, actor, data.get("cartera_id"))
    session.add(contact)
    session.flush()
    audit.record(
        session, actor, "created", "contact", contact.id, contact.name, after=snapshot(contact)
    )
    if cartera is not None:
        assign(session, actor, contact, cartera, move=False)
    return contact


def _target(session: Session, actor: Actor, cartera_id: int | None) -> Any:
    if cartera_id is None:
        return None
    try:
        return get_cartera(session, actor, cartera_id)
    except NotFound:
        raise Invalid.field(
            "cartera_id", f"no such cartera: {cartera_id}", "cartera.not_found"
        ) from None


def update_contact(
    session: Session,
    actor: Actor,
    contact_id: int,
    data: Mapping[str, Any],
    *,
    region: str,
    move: bool = False,
) -> Contact:
    """Change a contact. ``phones``/``emails`` replace the lists; ``cartera_id`` adds, moves
    (needs *move*) or removes (None), audited as membership events.

    :raise NotFound, Invalid, Conflict: as for create; Conflict also when moving without *move*.
    """
    require_manager(actor)
    contact = get_contact(session, actor, contact_id)
    before = snapshot(contact)
    fields = {k: v for k, v in data.items() if k != "cartera_id"}
    _apply(session, contact, fields, region)
    session.flush()
    audit.record_changes(
        session, actor, "contact", contact.id, contact.name, before, snapshot(contact)
    )
    if "cartera_id" in data:
        assign(session, actor, contact, _target(session, actor, data["cartera_id"]), move=move)
    return contact


def delete_contact(session: Session, actor: Actor, contact_id: int) -> None:
    """Delete a contact and its identities; the audit keeps its last state."""
    require_manager(actor)
    contact = get_contact(session, actor, contact_id)
    before = snapshot(contact)
    session.delete(contact)
    session.flush()
    audit.record(session, actor, "deleted", "contact", contact_id, before["name"], before=before)
