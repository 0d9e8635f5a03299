"""The Regiones page (issue 12) and regions on the Carteras and Contactos pages."""

import re

import sqlalchemy as sa

from service.domain.actor import system_actor
from service.domain.users import set_access
from service.extensions import db
from service.models import AuditEvent, Region, User
from tests.ui.conftest import csrf


def regions_by_name(app):
    with app.app_context():
        return {r.name: r.parent_id for r in db.session.scalars(sa.select(Region))}


def error_of(html, field):
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match.group(1)


def test_a_coordinator_creates_groups_renames_and_deletes_regions(app, login):
    browser = login()
    assert "Regiones" in browser.get("/carteras").get_data(as_text=True)  # in the menu
    assert "Todavía no hay regiones" in browser.get("/regiones").get_data(as_text=True)
    assert browser.submit("/regiones/nueva", data={"name": "Pacífico"}).status_code == 302
    with app.app_context():
        pacifico = db.session.scalar(sa.select(Region.id).where(Region.name == "Pacífico"))
    saved = browser.submit(
        f"/regiones/nueva?parent_id={pacifico}", data={"name": "Norte", "parent_id": pacifico}
    )
    assert saved.status_code == 302
    listing = browser.get("/regiones").get_data(as_text=True)
    assert "Región guardada." in listing and "↳ Norte" in listing and "En Pacífico" in listing
    # the same name, ignoring case: a Spanish error next to the field
    again = browser.submit("/regiones/nueva", data={"name": " NORTE "})
    assert again.status_code == 200
    assert error_of(again.get_data(as_text=True), "name") == "Ya existe una región llamada «NORTE»."
    with app.app_context():
        norte = db.session.scalar(sa.select(Region.id).where(Region.name == "Norte"))
    # a region of a macroregion cannot group others
    nested = browser.submit("/regiones/nueva", data={"name": "Sonora", "parent_id": norte})
    assert "no agrupa regiones" in error_of(nested.get_data(as_text=True), "parent_id")
    renamed = browser.submit(
        f"/regiones/{norte}/editar", data={"name": "Noroeste", "parent_id": pacifico}
    )
    assert renamed.status_code == 302
    assert regions_by_name(app) == {"Pacífico": None, "Noroeste": pacifico}
    # in use: refused with the counts, in Spanish
    refused = browser.submit("/regiones", action=f"/regiones/{pacifico}/eliminar")
    assert refused.status_code == 302
    page = browser.get("/regiones").get_data(as_text=True)
    assert "La región se usa en 0 carteras, 0 contactos y 1 regiones" in page
    browser.submit("/regiones", action=f"/regiones/{norte}/eliminar")
    browser.submit("/regiones", action=f"/regiones/{pacifico}/eliminar")
    assert regions_by_name(app) == {}
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent.event).where(AuditEvent.resource_type == "region")
        ).all()
    assert sorted(events) == ["created", "created", "deleted", "deleted", "updated"]


def test_deleting_needs_the_form_token(app, login, make):
    region = make.region("Norte")
    browser = login()
    assert browser.client.post(f"/regiones/{region}/eliminar").status_code == 400
    assert regions_by_name(app) == {"Norte": None}


def test_only_managers_with_every_cartera_open_it(app, make, login):
    region = make.region("Norte")
    team = make.team()
    cartera = make.cartera("Premium", team)
    supervisor = login("coordinator", email="sup@example.com")
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "sup@example.com"))
        set_access(
            db.session(), system_actor("t"), user_id, all_carteras=False, cartera_ids=[cartera]
        )
        db.session.commit()
    agent = login("agent", make.agent("Luis", [team]))
    for browser in (supervisor, agent):
        for path in ("/regiones", "/regiones/nueva", f"/regiones/{region}/editar"):
            assert browser.get(path).status_code == 403, path
        token = csrf(browser.get("/contactos").get_data(as_text=True))
        post = browser.client.post(f"/regiones/{region}/eliminar", data={"csrf_token": token})
        assert post.status_code == 403
        assert 'href="/regiones"' not in browser.get("/contactos").get_data(as_text=True)
    assert regions_by_name(app) == {"Norte": None}


def test_carteras_and_contacts_pages_show_and_filter_by_region(app, login, make):
    pacifico = make.region("Pacífico")
    norte = make.region("Norte", parent_id=pacifico)
    centro = make.region("Centro")
    team = make.team()
    make.cartera("Norte VIP", team, region_id=norte)
    centro_vip = make.cartera("Centro VIP", team, region_id=centro)
    make.contact("Ana Norte", None, region_id=norte)
    make.contact("Beto Centro", centro_vip)
    browser = login()
    carteras = browser.get(f"/carteras?region_id={pacifico}").get_data(as_text=True)
    assert "Norte VIP" in carteras and "Centro VIP" not in carteras
    assert f'<option value="{pacifico}" selected>' in carteras
    contacts = browser.get(f"/contactos?region_id={centro}").get_data(as_text=True)
    assert "Beto Centro" in contacts and "Ana Norte" not in contacts
    everyone = browser.get("/contactos?region_id=nada").get_data(as_text=True)
    assert "Beto Centro" in everyone and "Ana Norte" in everyone
    with app.app_context():
        beto = db.session.scalar(sa.text("SELECT id FROM contacts WHERE name = 'Beto Centro'"))
    detail = browser.get(f"/contactos/{beto}").get_data(as_text=True)
    assert "Centro" in detail and "(la de su cartera)" in detail
    # the contact form sets its own region, and "— La región de su cartera —" clears it
    edit = f"/contactos/{beto}/editar"
    browser.submit(edit, data={"name": "Beto Centro", "region_id": norte})
    detail = browser.get(f"/contactos/{beto}").get_data(as_text=True)
    assert "Norte" in detail and "(la de su cartera)" not in detail
    browser.submit(edit, data={"name": "Beto Centro", "region_id": ""})
    assert "(la de su cartera)" in browser.get(f"/contactos/{beto}").get_data(as_text=True)
