"""Pages of Contactos: quick search, create/edit, a contact's conversations, CSV in and out."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from service.domain import carteras, contacts, conversations, imports, regions
from service.domain import history as contact_history
from service.domain.errors import Conflict, Invalid
from service.domain.identity import EMAIL, PHONE, display_phone
from service.extensions import db
from service.models import Agent
from service.ui import bp, messages
from service.ui.auth import me
from service.ui.carteras import (
    PER_PAGE,
    apply_errors,
    chosen_region,
    managers_only,
    page_number,
    region_choices,
)
from service.ui.forms import ContactCarteraForm, ContactForm, ImportConfirmForm, ImportForm


def _region() -> str:
    return str(current_app.config["CARTERAS"].default_phone_region)


def _filters() -> tuple[contacts.ContactFilters, dict[str, Any], list[tuple[int, str]]]:
    """The list's filters from the query string (anything unknown is no filter), the same
    values for links (pager, export), and the region choices."""
    session, actor = db.session(), me()
    q = request.args.get("q", "").strip()[:200]
    company = request.args.get("empresa", "").strip()[:200]
    all_regions = regions.all_regions(session)
    region_id = chosen_region(all_regions)
    cartera = request.args.get("cartera", "")
    cartera_id: int | None = None
    unassigned: bool | None = None
    if cartera == "ninguna":
        unassigned = True
    elif cartera.isascii() and cartera.isdigit() and len(cartera) <= 10:
        visible = {c.id for c in carteras.all_visible(session, actor)}
        cartera_id = int(cartera) if int(cartera) in visible else None
    filters = contacts.ContactFilters(
        q=q or None,
        cartera_id=cartera_id,
        unassigned=unassigned,
        region_id=region_id,
        company=company or None,
    )
    args = {
        "q": q,
        "cartera": "ninguna" if unassigned else (cartera_id or ""),
        "region_id": region_id or "",
        "empresa": company,
    }
    return filters, {k: v for k, v in args.items() if v}, region_choices(all_regions)


@bp.get("/contactos", endpoint="contacts")
@login_required
def contacts_list() -> str:
    filters, args, region_options = _filters()
    found = contacts.list_contacts(
        db.session(), me(), filters, region=_region(), page=page_number(), per_page=PER_PAGE
    )
    return render_template(
        "contacts/list.html",
        page=found,
        args=args,
        q=args.get("q", ""),
        region_id=filters.region_id,
        regions=region_options,
        carteras=carteras.all_visible(db.session(), me()),
        region_of=regions.effective,
    )


@bp.get("/contactos/<id:contact_id>")
@login_required
def contact_detail(contact_id: int) -> str:
    session, actor = db.session(), me()
    contact = contacts.get_contact(session, actor, contact_id)
    history = conversations.list_conversations(
        session,
        actor,
        conversations.ConversationFilters(contact_id=contact_id),
        tz=current_app.config["CARTERAS"].tz,
        page=1,
        per_page=50,
    )
    # the cartera history names earlier carteras (a colleague's too): for managers only
    timeline = (
        [
            {**entry, "at": datetime.fromisoformat(entry["at"])}
            for entry in contact_history.contact_history(session, actor, contact_id)["timeline"]
            if entry["type"] != "conversation"  # listed apart below, with who took each one
        ]
        if actor.is_manager
        else None
    )
    served = {c.served_by_agent_id for c in history.items if c.served_by_agent_id} - {None}
    took = {
        agent_id: name
        for agent_id, name in session.execute(
            select(Agent.id, Agent.name).where(Agent.id.in_(served))
        )
    }
    settings = current_app.config["CARTERAS"]
    return render_template(
        "contacts/detail.html",
        contact=contact,
        history=history,
        timeline=list(reversed(timeline)) if timeline is not None else None,
        took=took,
        rocketchat_url=(settings.rocketchat_url or "").rstrip("/"),
        phones=contacts.values_of(contact, PHONE),
        emails=contacts.values_of(contact, EMAIL),
        region=regions.effective(contact),
    )


@bp.route("/contactos/<id:contact_id>/cartera", methods=["GET", "POST"])
@login_required
def contact_cartera(contact_id: int) -> str | BaseResponse:
    """Change a contact's cartera from its ficha; moving it out of (or removing it from) a
    cartera first says where it is and where it goes."""
    managers_only()
    session, actor = db.session(), me()
    contact = contacts.get_contact(session, actor, contact_id)
    visible = carteras.all_visible(session, actor)
    form = ContactCarteraForm()
    form.cartera.choices = [("ninguna", _("— Sin cartera —"))] + [
        (str(c.id), f"{c.icon} {c.name}") for c in visible
    ]
    if request.method == "GET":
        form.cartera.data = str(contact.cartera_id) if contact.cartera_id else "ninguna"
    target = None
    if form.validate_on_submit():
        chosen = form.cartera.data
        target = next((c for c in visible if str(c.id) == chosen), None)
        if (target.id if target else None) == contact.cartera_id:
            flash(_("El contacto ya está en esa cartera."))
            return redirect(url_for("ui.contact_detail", contact_id=contact_id))
        if contact.cartera is None or form.confirm.data == "1":
            before = contact.cartera.name if contact.cartera else None
            contacts.update_contact(
                session,
                actor,
                contact_id,
                {"cartera_id": target.id if target else None},
                region=_region(),
                move=True,
            )
            session.commit()
            flash(_moved_message(contact.name, before, target.name if target else None))
            return redirect(url_for("ui.contact_detail", contact_id=contact_id))
        form.confirm.data = "1"  # the page below asks; the next submit applies
    return render_template(
        "contacts/cartera.html",
        form=form,
        contact=contact,
        target=target,
        asking=target is not None or (form.confirm.data == "1"),
    )


def _moved_message(name: str, before: str | None, after: str | None) -> str:
    if before and after:
        return str(
            _("%(name)s pasó de «%(before)s» a «%(after)s».", name=name, before=before, after=after)
        )
    if after:
        return str(_("%(name)s quedó en «%(after)s».", name=name, after=after))
    return str(_("%(name)s quedó sin cartera.", name=name))


@bp.app_template_filter("phone")
def _phone(value: str) -> str:
    """``+525512345678`` -> ``+52 55 1234 5678``."""
    return display_phone(value)


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(";") if part.strip()]


def _choices(form: ContactForm) -> None:
    form.region_id.choices = [
        (None, _("— La región de su cartera —")),
        *region_choices(regions.all_regions(db.session())),
    ]


def _save(form: ContactForm, contact_id: int | None) -> str | BaseResponse:
    data = {
        "name": form.name.data,
        "phones": _split(form.phones.data),
        "emails": _split(form.emails.data),
        "external_ref": form.external_ref.data or None,
        "company": form.company.data or None,
        "notes": form.notes.data or None,
        "region_id": form.region_id.data,
    }
    try:
        if contact_id is None:
            saved = contacts.create_contact(db.session(), me(), data, region=_region())
        else:
            saved = contacts.update_contact(db.session(), me(), contact_id, data, region=_region())
        db.session.commit()
    except Invalid as error:
        db.session.rollback()
        apply_errors(form, error)
        return render_template("contacts/form.html", form=form, contact_id=contact_id)
    except Conflict as error:
        db.session.rollback()
        taken = error.details.get("identities") or []
        field = (
            form.emails
            if taken and taken[0]["kind"] == EMAIL
            else (form.phones if taken else form.external_ref)
        )
        field.errors.append(
            _(
                "Ya pertenece a otro contacto (#%(id)s).",
                id=(taken[0]["contact_id"] if taken else error.details.get("existing_id")),
            )
        )
        return render_template("contacts/form.html", form=form, contact_id=contact_id)
    flash(_("Contacto guardado."))
    return redirect(url_for("ui.contact_detail", contact_id=saved.id))


@bp.route("/contactos/nuevo", methods=["GET", "POST"])
@login_required
def contact_new() -> str | BaseResponse:
    managers_only()
    form = ContactForm()
    _choices(form)
    if form.validate_on_submit():
        return _save(form, None)
    return render_template("contacts/form.html", form=form, contact_id=None)


@bp.route("/contactos/<id:contact_id>/editar", methods=["GET", "POST"])
@login_required
def contact_edit(contact_id: int) -> str | BaseResponse:
    managers_only()
    contact = contacts.get_contact(db.session(), me(), contact_id)
    form = ContactForm(obj=contact)
    _choices(form)
    if request.method == "GET":
        form.phones.data = "; ".join(contacts.values_of(contact, PHONE))
        form.emails.data = "; ".join(contacts.values_of(contact, EMAIL))
    if form.validate_on_submit():
        return _save(form, contact_id)
    return render_template("contacts/form.html", form=form, contact_id=contact_id)


# A preview keeps its file here until it is confirmed (or for an hour): the file input
# cannot be filled again by the page. One directory per host: with several web hosts, a
# confirmation that lands on another one asks for the file again.
PREVIEWS = Path(tempfile.gettempdir()) / "carteras-import-previews"
PREVIEW_TTL = 3600


def _preview_path(token: str) -> Path:
    return PREVIEWS / f"{me().user_id}-{token}.csv"


def _keep_preview(data: bytes) -> str:
    PREVIEWS.mkdir(mode=0o700, exist_ok=True)
    now = time.time()
    for old in PREVIEWS.glob("*.csv"):
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > PREVIEW_TTL:
                old.unlink()
    token = secrets.token_urlsafe(24)
    path = _preview_path(token)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)
    return token


def _run_import(data: bytes, move: bool, *, save: bool) -> imports.ImportReport:
    report = imports.import_contacts(
        db.session(), me(), imports.read_csv(data), region=_region(), move=move
    )
    if save:
        db.session.commit()
    else:
        db.session.rollback()  # a preview saves nothing, not even audit events
    return report


@bp.route("/contactos/importar", methods=["GET", "POST"])
@login_required
def contacts_import() -> str:
    """Upload → preview (what would be created, updated, moved, renamed, refused) → save."""
    managers_only()
    form = ImportForm()
    report = confirm = None
    if form.validate_on_submit():
        data = form.file.data.read(current_app.config["CARTERAS"].import_max_bytes + 1)
        if len(data) > current_app.config["CARTERAS"].import_max_bytes:
            form.file.errors.append(_("El archivo es demasiado grande."))
        else:
            try:
                report = _run_import(data, bool(form.move.data), save=False)
            except Invalid as error:
                db.session.rollback()
                form.file.errors.append(_header_error(error))
            else:
                confirm = ImportConfirmForm(
                    preview=_keep_preview(data), move="1" if form.move.data else ""
                )
    return render_template(
        "contacts/import.html",
        form=form,
        report=report,
        confirm=confirm,
        columns=imports.SPANISH,
        saved=False,
        say=messages.say,
    )


def _header_error(error: Invalid) -> str:
    fields = error.details.get("fields") or {}
    if "header" in fields or "expected" in error.details:
        message = _(
            "La primera fila debe nombrar las columnas: nombre (obligatoria), teléfonos, "
            "correos, referencia, empresa, notas, cartera, región."
        )
    elif "line" in error.details:
        message = _(
            "El archivo no se puede leer después de la línea %(line)s: un campo demasiado "
            "largo o unas comillas sin cerrar.",
            line=error.details["line"],
        )
    elif "file" in fields:
        message = _("El archivo está vacío o no se puede leer como CSV.")
    else:
        message = _("El archivo no se puede leer como CSV.")
    return str(message)


@bp.post("/contactos/importar/guardar")
@login_required
def contacts_import_confirm() -> str | BaseResponse:
    managers_only()
    confirm = ImportConfirmForm()
    if not confirm.validate_on_submit():
        abort(400, _("Falta el token de seguridad del formulario; recargue la página."))
    path = _preview_path(confirm.preview.data)
    try:
        data = path.read_bytes()
    except OSError:
        flash(_("La vista previa caducó; suba el archivo otra vez."), "error")
        return redirect(url_for("ui.contacts_import"))
    try:
        report = _run_import(data, bool(confirm.move.data), save=True)
    except Invalid as error:
        db.session.rollback()
        flash(_header_error(error), "error")
        return redirect(url_for("ui.contacts_import"))
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    flash(_("Importación guardada."))
    return render_template(
        "contacts/import.html",
        form=ImportForm(),
        report=report,
        confirm=None,
        columns=imports.SPANISH,
        saved=True,
        say=messages.say,
    )


@bp.get("/contactos/importar/plantilla")
@login_required
def contacts_import_template() -> Response:
    """A CSV to fill in: the Spanish header and one example row."""
    managers_only()
    example = (
        "Ana López",
        "+52 55 1234 5678;55 8765 4321",
        "ana@example.com",
        "CRM-001",
        "ACME",
        "Cliente desde 2020",
        "",
        "",
    )
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(imports.header(spanish=True))
    writer.writerow(example)
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=plantilla-contactos.csv"},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/contactos/exportar")
@login_required
def contacts_export() -> Response:
    """What the list shows (its filters), as CSV with a BOM and Spanish headers (a
    spreadsheet opens it with its accents) or as Excel (``?formato=xlsx``)."""
    actor = me()
    filters, _args, _regions = _filters()
    if request.args.get("formato") == "xlsx":
        book = imports.export_xlsx(db.session(), actor, filters, region=_region(), spanish=True)
        return Response(
            book,
            mimetype=XLSX,
            headers={"Content-Disposition": "attachment; filename=contactos.xlsx"},
        )

    contacts.where(db.session(), actor, filters, _region())  # a bad filter: before the stream

    def rows() -> Iterator[str]:
        yield from imports.export_csv(
            db.session(), actor, filters, region=_region(), spanish=True, bom=True
        )

    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=contactos.csv"},
    )
