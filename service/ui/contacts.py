"""Pages of Contactos: quick search, create/edit, a contact's conversations, CSV in and out."""

from __future__ import annotations

from collections.abc import Iterator

from flask import (
    Response,
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
from werkzeug.wrappers import Response as BaseResponse

from service.domain import contacts, conversations, imports, regions
from service.domain.errors import Conflict, Invalid
from service.domain.identity import EMAIL, PHONE
from service.extensions import db
from service.ui import bp
from service.ui.auth import me
from service.ui.carteras import (
    PER_PAGE,
    apply_errors,
    chosen_region,
    managers_only,
    page_number,
    region_choices,
)
from service.ui.forms import ContactForm, ImportForm


def _region() -> str:
    return str(current_app.config["CARTERAS"].default_phone_region)


@bp.get("/contactos", endpoint="contacts")
@login_required
def contacts_list() -> str:
    q = request.args.get("q", "").strip()
    session = db.session()
    all_regions = regions.all_regions(session)
    region_id = chosen_region(all_regions)
    found = contacts.list_contacts(
        session,
        me(),
        contacts.ContactFilters(q=q or None, region_id=region_id),
        region=_region(),
        page=page_number(),
        per_page=PER_PAGE,
    )
    return render_template(
        "contacts/list.html",
        page=found,
        q=q,
        region_id=region_id,
        regions=region_choices(all_regions),
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
    return render_template(
        "contacts/detail.html",
        contact=contact,
        history=history,
        phones=contacts.values_of(contact, PHONE),
        emails=contacts.values_of(contact, EMAIL),
        region=regions.effective(contact),
    )


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


@bp.route("/contactos/importar", methods=["GET", "POST"])
@login_required
def contacts_import() -> str:
    managers_only()
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        data = form.file.data.read()
        try:
            report = imports.import_contacts(
                db.session(),
                me(),
                imports.read_csv(data),
                region=_region(),
                move=bool(form.move.data),
            )
            db.session.commit()
        except Invalid as error:
            db.session.rollback()
            form.file.errors.append(error.message)
    return render_template("contacts/import.html", form=form, report=report)


@bp.get("/contactos/exportar")
@login_required
def contacts_export() -> Response:
    actor = me()

    def rows() -> Iterator[str]:
        yield from imports.export_csv(db.session(), actor)

    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=contactos.csv"},
    )
