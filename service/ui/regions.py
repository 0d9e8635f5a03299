"""Page of Regiones (issue 12): coordinators with every cartera list, create, rename, group
under a macroregion and delete regions. Everyone else gets 403."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from service.domain import regions
from service.domain.errors import Conflict, Invalid
from service.extensions import db
from service.models import Region
from service.ui import bp, messages
from service.ui.auth import me
from service.ui.carteras import apply_errors, managers_only
from service.ui.forms import ActionForm, RegionForm


def _all_carteras_only() -> None:
    managers_only()
    if not me().manages_all:
        abort(403, _("Gestionar regiones requiere acceso a todas las carteras."))


def _parent_choices(form: RegionForm, own_id: int | None) -> None:
    tops = [r for r in regions.all_regions(db.session()) if r.parent_id is None and r.id != own_id]
    form.parent_id.choices = [(None, _("— Ninguna (región principal) —"))] + [
        (r.id, r.name) for r in tops
    ]


def _save(form: RegionForm, region_id: int | None) -> str | Response:
    data = {"name": form.name.data, "parent_id": form.parent_id.data}
    try:
        if region_id is None:
            regions.create_region(db.session(), me(), data)
        else:
            regions.update_region(db.session(), me(), region_id, data)
        db.session.commit()
    except Conflict as error:
        db.session.rollback()
        form.name.errors.append(messages.explain(error))
        return render_template("regions/form.html", form=form, region_id=region_id)
    except Invalid as error:
        db.session.rollback()
        apply_errors(form, error)
        return render_template("regions/form.html", form=form, region_id=region_id)
    flash(_("Región guardada."))
    return redirect(url_for("ui.regions"))


@bp.get("/regiones", endpoint="regions")
@login_required
def regions_list() -> str:
    _all_carteras_only()
    everything = regions.all_regions(db.session())
    children: dict[int | None, list[Region]] = {}
    for region in everything:
        children.setdefault(region.parent_id, []).append(region)
    return render_template(
        "regions/list.html", tops=children.get(None, []), children=children, action=ActionForm()
    )


@bp.route("/regiones/nueva", methods=["GET", "POST"])
@login_required
def region_new() -> str | Response:
    _all_carteras_only()
    form = RegionForm()
    _parent_choices(form, None)
    if request.method == "GET" and (parent := request.args.get("parent_id", "")).isdigit():
        form.parent_id.data = int(parent)
    if form.validate_on_submit():
        return _save(form, None)
    return render_template("regions/form.html", form=form, region_id=None)


@bp.route("/regiones/<id:region_id>/editar", methods=["GET", "POST"])
@login_required
def region_edit(region_id: int) -> str | Response:
    _all_carteras_only()
    region = regions.get_region(db.session(), region_id)
    form = RegionForm(obj=region)
    _parent_choices(form, region_id)
    if form.validate_on_submit():
        return _save(form, region_id)
    return render_template("regions/form.html", form=form, region_id=region_id)


@bp.post("/regiones/<id:region_id>/eliminar")
@login_required
def region_delete(region_id: int) -> Response:
    _all_carteras_only()
    if not ActionForm().validate_on_submit():
        abort(400, _("Falta el token de seguridad del formulario; recargue la página."))
    try:
        regions.delete_region(db.session(), me(), region_id)
        db.session.commit()
        flash(_("Región eliminada."))
    except Conflict as error:
        db.session.rollback()
        flash(messages.explain(error), "error")
    return redirect(url_for("ui.regions"))
