"""Contacts endpoints: CRUD, search, CSV import and export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, current_app, request, stream_with_context
from flask_smorest import Blueprint

from service.api.auth import current_actor
from service.api.schemas import (
    ContactArgs,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    ExportArgs,
    HistoryOut,
    ImportArgs,
    ImportOut,
)
from service.domain import contacts, history, imports
from service.domain.pagination import Page
from service.extensions import db
from service.models import Contact

bp = Blueprint("contacts", __name__, url_prefix="/api", description="Contacts")


def _region() -> str:
    return str(current_app.config["CARTERAS"].default_phone_region)


@bp.get("/contacts")
@bp.arguments(ContactArgs, location="query", as_kwargs=True)
@bp.response(200, ContactPage)
def list_contacts(page: int, per_page: int, **filters: Any) -> Page[Contact]:
    """Search contacts by name, company, ref, email, or a phone in any written form;
    ``region_id`` keeps those whose region (own, or their cartera's) is in it."""
    return contacts.list_contacts(
        db.session(),
        current_actor(),
        contacts.ContactFilters(**filters),
        region=_region(),
        page=page,
        per_page=per_page,
    )


@bp.post("/contacts")
@bp.arguments(ContactIn)
@bp.response(201, ContactOut)
def create_contact(data: dict[str, Any]) -> Contact:
    """Create a contact; phones are stored as E.164, emails lower-cased."""
    contact = contacts.create_contact(db.session(), current_actor(), data, region=_region())
    db.session.commit()
    return contact


@bp.get("/contacts/<id:contact_id>")
@bp.response(200, ContactOut)
def get_contact(contact_id: int) -> Contact:
    return contacts.get_contact(db.session(), current_actor(), contact_id)


@bp.patch("/contacts/<id:contact_id>")
@bp.arguments(ContactPatch(partial=True))
@bp.response(200, ContactOut)
def update_contact(data: dict[str, Any], contact_id: int) -> Contact:
    """Change a contact; ``phones``/``emails`` replace the lists; a new ``cartera_id`` that
    moves the contact out of another cartera needs ``"move": true``."""
    move = bool(data.pop("move", False))
    contact = contacts.update_contact(
        db.session(), current_actor(), contact_id, data, region=_region(), move=move
    )
    db.session.commit()
    return contact


@bp.delete("/contacts/<id:contact_id>")
@bp.response(204)
def delete_contact(contact_id: int) -> None:
    contacts.delete_contact(db.session(), current_actor(), contact_id)
    db.session.commit()


@bp.post("/contacts/import")
@bp.arguments(ImportArgs, location="query", as_kwargs=True)
@bp.response(200, ImportOut)
@bp.doc(requestBody={"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}})
def import_contacts(move: bool, dry_run: bool) -> imports.ImportReport:
    """Import contacts from CSV (``name,phones,emails,external_ref,company,cartera,region``).

    Rows are matched to existing contacts by external_ref, then by phone or email; bad rows
    are reported and skipped, the rest are saved in one transaction.
    """
    # A 100k-row CSV is larger than the general request limit; this route has its own.
    request.max_content_length = current_app.config["CARTERAS"].import_max_bytes
    report = imports.import_contacts(
        db.session(),
        current_actor(),
        imports.read_csv(request.get_data(cache=False)),
        region=_region(),
        move=move,
    )
    if dry_run:
        db.session.rollback()  # nothing saved, not even the audit events
    else:
        db.session.commit()
    return report


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/contacts/export")
@bp.arguments(ExportArgs, location="query", as_kwargs=True)
@bp.response(200, {"type": "string"}, content_type="text/csv")
@bp.doc(
    responses={
        "200": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            }
        }
    }
)
def export_contacts(format: str, headers: str, **filters: Any) -> Response:
    """The visible contacts the same filters as the list keep, in the import's columns, as
    CSV (UTF-8) or an Excel workbook."""
    actor = current_actor()
    chosen = contacts.ContactFilters(**filters)
    spanish = headers == "es"
    if format == "xlsx":
        book = imports.export_xlsx(db.session(), actor, chosen, region=_region(), spanish=spanish)
        return Response(
            book,
            mimetype=XLSX,
            headers={"Content-Disposition": "attachment; filename=contactos.xlsx"},
        )

    # a bad filter answers 422 here, before the 200 starts streaming
    contacts.where(db.session(), actor, chosen, _region())

    def generate() -> Iterator[str]:
        yield from imports.export_csv(
            db.session(), actor, chosen, region=_region(), spanish=spanish
        )

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=contactos.csv"},
    )


@bp.get("/contacts/<id:contact_id>/history")
@bp.response(200, HistoryOut)
def contact_history(contact_id: int) -> dict[str, Any]:
    """Every cartera the contact was in, every owner change of those carteras (who, when),
    and the conversations routed under each owner, read from the audit log, oldest first."""
    return history.contact_history(db.session(), current_actor(), contact_id)
