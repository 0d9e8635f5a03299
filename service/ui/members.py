"""Gestionar contactos of a cartera (issue 13, item 4): search and add (paged, with what
tells two homonyms apart and where each contact is now), "En cartera" with its own search
and paging, several at once, moves that say from where, and "Deshacer" for a few minutes
(a real undo: each one an audited change, ``details.undo_of``)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from service.domain import carteras, contacts, membership
from service.domain.access import visible_contacts
from service.domain.errors import Conflict, NotFound
from service.domain.identity import EMAIL, PHONE, display_phone
from service.domain.pagination import MAX_PAGE
from service.extensions import db
from service.models import Contact
from service.ui import bp
from service.ui.auth import me
from service.ui.carteras import managers_only
from service.ui.formats import ngettext
from service.ui.forms import ActionForm

PER_PAGE = 20
UNDO_KEY = "undo"


def _number(name: str) -> int:
    value = request.args.get(name, "1")
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_PAGE)):
        return 1
    return min(max(int(value), 1), MAX_PAGE)


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isascii() and v.isdigit() and 0 < len(v) <= 10]


def _region() -> str:
    return str(current_app.config["CARTERAS"].default_phone_region)


def describe(contact: Contact) -> str:
    """What tells two contacts of one name apart: a phone, an email, the company."""
    parts = [display_phone(v) for v in contacts.values_of(contact, PHONE)[:1]]
    parts += contacts.values_of(contact, EMAIL)[:1]
    if contact.company:
        parts.append(contact.company)
    return " · ".join(parts)


def _checked() -> None:
    if not ActionForm().validate_on_submit():
        abort(400, _("Falta el token de seguridad del formulario; recargue la página."))


def _offer_undo(label: str) -> None:
    """Keep the ids of what this request changed, for the page's "Deshacer"."""
    ids = membership.changes_of_request(db.session(), me())
    if ids:
        session[UNDO_KEY] = {"ids": ids[:500], "label": label}


@bp.get("/carteras/<id:cartera_id>/contactos")
@login_required
def cartera_contacts(cartera_id: int) -> str:
    managers_only()
    db_session, actor = db.session(), me()
    cartera = carteras.get_cartera(db_session, actor, cartera_id)
    q = request.args.get("q", "").strip()[:200]
    qm = request.args.get("qm", "").strip()[:200]
    results = (
        contacts.list_contacts(
            db_session,
            actor,
            contacts.ContactFilters(q=q),
            region=_region(),
            page=_number("pr"),
            per_page=PER_PAGE,
        )
        if q
        else None
    )
    members = contacts.list_contacts(
        db_session,
        actor,
        contacts.ContactFilters(q=qm or None, cartera_id=cartera_id),
        region=_region(),
        page=_number("page"),
        per_page=PER_PAGE,
    )
    asking = _ids(request.args.get("confirmar", "").split(","))
    to_move = (
        list(db_session.scalars(contacts_in_other(db_session, actor, asking, cartera_id)))
        if asking
        else []
    )
    undo = session.pop(UNDO_KEY, None)
    others = [c for c in carteras.all_visible(db_session, actor) if c.id != cartera_id]
    return render_template(
        "carteras/contacts.html",
        cartera=cartera,
        q=q,
        qm=qm,
        results=results,
        members=members,
        to_move=to_move,
        undo=undo,
        others=others,
        describe=describe,
        action=ActionForm(),
    )


def contacts_in_other(db_session: Any, actor: Any, ids: list[int], cartera_id: int) -> Any:
    return (
        select(Contact)
        .where(
            Contact.id.in_(ids),
            Contact.cartera_id.is_not(None),
            Contact.cartera_id != cartera_id,
            visible_contacts(actor),
        )
        .order_by(Contact.name, Contact.id)
    )


def _back(cartera_id: int, **extra: Any) -> Response:
    keep = {k: request.args.get(k, "") for k in ("q", "qm", "pr", "page")}
    return redirect(
        url_for(
            "ui.cartera_contacts",
            cartera_id=cartera_id,
            **{k: v for k, v in {**keep, **extra}.items() if v},
        )
    )


@bp.post("/carteras/<id:cartera_id>/contactos")
@login_required
def cartera_add_contact(cartera_id: int) -> Response:
    """Add the chosen contacts; any held by another cartera is first shown with where it is
    ("Está en «X» de Ana. ¿Moverlo aquí?") and moved only once confirmed."""
    managers_only()
    _checked()
    # one row's own button ("solo"), else the rows ticked
    ids = _ids([request.form.get("solo", "")]) or _ids(request.form.getlist("contact_id"))
    if not ids:
        flash(_("Elija al menos un contacto."), "error")
        return _back(cartera_id)
    confirmed = request.form.get("confirm") == "1"
    try:
        result = membership.add_contacts(db.session(), me(), cartera_id, ids, move=confirmed)
    except Conflict as error:
        db.session.rollback()
        held = [c["contact_id"] for c in error.details.get("contacts", [])]
        if held and not confirmed:
            return _back(cartera_id, confirmar=",".join(map(str, held)))
        flash(_("Otro cambio llegó antes; revise y vuelva a intentarlo."), "error")
        return _back(cartera_id)
    except NotFound:
        db.session.rollback()
        abort(404)
    label = _added_label(len(result.added), len(result.moved))
    _offer_undo(label)
    db.session.commit()
    flash(label)
    return _back(cartera_id)


def _added_label(added: int, moved: int) -> str:
    parts = []
    if added:
        parts.append(ngettext("%(num)s contacto agregado", "%(num)s contactos agregados", added))
    if moved:
        parts.append(
            ngettext(
                "%(num)s contacto movido a esta cartera",
                "%(num)s contactos movidos a esta cartera",
                moved,
            )
        )
    return (", ".join(parts) + ".") if parts else _("Ya estaban en esta cartera.")


@bp.post("/carteras/<id:cartera_id>/contactos/<id:contact_id>/quitar")
@login_required
def cartera_remove_contact(cartera_id: int, contact_id: int) -> Response:
    managers_only()
    _checked()
    membership.remove_contact(db.session(), me(), cartera_id, contact_id)
    _offer_undo(_("Contacto quitado de la cartera."))
    db.session.commit()
    flash(_("Contacto quitado de la cartera."))
    return _back(cartera_id)


@bp.post("/carteras/<id:cartera_id>/contactos/seleccion")
@login_required
def cartera_selection(cartera_id: int) -> Response:
    """Several members at once: take them out (``quitar``) or move them (``mover``) to
    another cartera the person holds."""
    managers_only()
    _checked()
    ids = _ids(request.form.getlist("contact_id"))
    what = request.form.get("accion")
    if not ids:
        flash(_("Elija al menos un contacto."), "error")
        return _back(cartera_id)
    db_session, actor = db.session(), me()
    if what == "quitar":
        done = membership.remove_contacts(db_session, actor, cartera_id, ids)
        label = ngettext(
            "%(num)s contacto quitado de la cartera.",
            "%(num)s contactos quitados de la cartera.",
            len(done),
        )
    elif what == "mover":
        target = _ids([request.form.get("destino", "")])
        if not target:
            flash(_("Elija la cartera a la que se mueven."), "error")
            return _back(cartera_id)
        members = set(db_session.scalars(contacts_in_cartera(ids, cartera_id)))
        if members != set(ids):
            abort(404)
        try:
            destination = carteras.get_cartera(db_session, actor, target[0])
        except NotFound:
            abort(404)
        result = membership.add_contacts(db_session, actor, destination.id, ids, move=True)
        label = ngettext(
            "%(num)s contacto movido a «%(name)s».",
            "%(num)s contactos movidos a «%(name)s».",
            len(result.moved),
            name=destination.name,
        )
    else:
        abort(400, _("Acción desconocida."))
    _offer_undo(label)
    db_session.commit()
    flash(label)
    return _back(cartera_id)


def contacts_in_cartera(ids: list[int], cartera_id: int) -> Any:
    return select(Contact.id).where(Contact.id.in_(ids), Contact.cartera_id == cartera_id)


@bp.post("/carteras/<id:cartera_id>/contactos/deshacer")
@login_required
def cartera_undo(cartera_id: int) -> Response:
    """Undo the changes the page just offered to undo (the person's own, minutes old)."""
    managers_only()
    _checked()
    ids = _ids(request.form.getlist("event_id"))
    try:
        count = membership.undo(db.session(), me(), ids)
    except NotFound:
        db.session.rollback()
        flash(_("Ya no se puede deshacer: pasó demasiado tiempo."), "error")
        return _back(cartera_id)
    except Conflict:
        db.session.rollback()
        flash(_("No se deshizo: alguien cambió esos contactos mientras tanto."), "error")
        return _back(cartera_id)
    db.session.commit()
    flash(
        ngettext(
            "Se deshizo el cambio de %(num)s contacto.",
            "Se deshizo el cambio de %(num)s contactos.",
            count,
        )
    )
    return _back(cartera_id)
