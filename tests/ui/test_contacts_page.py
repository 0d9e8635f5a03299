"""Contactos at work (issue 13, item 6): filters the export follows, Excel and CSV with a
BOM, Spanish headers, import preview before saving and moves only when asked, renames
reported, the ficha with notes, region, history and who took each conversation, and
"Cambiar" cartera that says where the contact is and where it goes."""

import csv
import io
import re

import openpyxl
import sqlalchemy as sa

from service.extensions import db
from service.models import AuditEvent, Contact, Conversation
from tests.ui.conftest import csrf


def names_in(html):
    return re.findall(r'href="/contactos/\d+">([^<]+)</a>', html)


def test_filters_and_the_export_follow_them(login, make):
    team = make.team()
    premium = make.cartera("Premium", team)
    norte = make.region("Norte")
    make.contact("Ana", premium, company="ACME Norte", notes="Llamar por la tarde")
    make.contact("Beto", None, company="Otra")
    make.contact("Caro", None, company="acme sur", region_id=norte)
    browser = login()
    assert names_in(browser.get(f"/contactos?cartera={premium}").get_data(as_text=True)) == ["Ana"]
    assert names_in(browser.get("/contactos?cartera=ninguna").get_data(as_text=True)) == [
        "Beto",
        "Caro",
    ]
    assert names_in(browser.get("/contactos?empresa=acme").get_data(as_text=True)) == [
        "Ana",
        "Caro",
    ]
    page = browser.get("/contactos?empresa=acme&cartera=ninguna").get_data(as_text=True)
    assert names_in(page) == ["Caro"]
    # the export links carry the filters
    assert 'href="/contactos/exportar?cartera=ninguna&amp;empresa=acme"' in page
    exported = browser.get("/contactos/exportar?cartera=ninguna&empresa=acme")
    text = exported.get_data(as_text=True)
    assert text.startswith("\ufeffnombre,teléfonos,correos,referencia,empresa,notas,cartera,región")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(r["nombre"], r["región"]) for r in rows] == [("Caro", "Norte")]
    book = browser.get("/contactos/exportar?formato=xlsx&empresa=acme")
    assert book.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(book.get_data())).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][:2] == ["nombre", "teléfonos"]
    assert [(r[0], r[5], r[6]) for r in values[1:]] == [
        ("Ana", "Llamar por la tarde", "Premium"),
        ("Caro", None, None),
    ]
    # a cartera the person cannot see is no filter, never an error
    assert browser.get("/contactos?cartera=999999").status_code == 200


def upload(browser, text, move=False):
    data = {"file": (io.BytesIO(text.encode()), "c.csv")}
    if move:
        data["move"] = "y"
    return browser.submit(
        "/contactos/importar", data=data, content_type="multipart/form-data"
    ).get_data(as_text=True)


def save(browser, preview):
    token = re.search(r'name="preview" type="hidden" value="([^"]+)"', preview).group(1)
    move = re.search(r'name="move" type="hidden" value="([^"]*)"', preview).group(1)
    return browser.client.post(
        "/contactos/importar/guardar",
        data={"csrf_token": csrf(preview), "preview": token, "move": move},
    ).get_data(as_text=True)


def test_import_previews_moves_and_renames_and_moves_only_when_asked(app, login, make):
    team = make.team()
    premium, oro = make.cartera("Premium", team), make.cartera("Oro", team)
    ana = make.contact("Ana Vieja", premium, phones=["55 1111 1111"])
    browser = login()
    text = "nombre,teléfonos,cartera,notas\nAna López,55 1111 1111,Oro,VIP\nNuevo,,,\n"
    without = upload(browser, text)
    assert "Vista previa: todavía no se guardó nada" in without
    assert "rechazados: 1" in without and "nuevos: 1" in without
    preview = upload(browser, text, move=True)
    assert "movidos: 1" in preview
    assert "Ana López: de «Premium» a «Oro»" in preview
    assert "Fila 2: «Ana Vieja» pasa a llamarse «Ana López»" in preview
    with app.app_context():
        assert db.session.get(Contact, ana).name == "Ana Vieja"  # nothing saved yet
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) > 0
        before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    saved = save(browser, preview)
    assert "Importación guardada" in saved
    with app.app_context():
        row = db.session.get(Contact, ana)
        assert (row.name, row.cartera_id, row.notes) == ("Ana López", oro, "VIP")
        events = db.session.scalars(
            sa.select(AuditEvent.event).where(AuditEvent.id > 0).order_by(AuditEvent.id)
        ).all()[before:]
    assert sorted(events) == ["contact_moved", "imported", "updated"]
    # the same preview cannot be saved twice
    again = browser.client.post(
        "/contactos/importar/guardar",
        data={"csrf_token": csrf(preview), "preview": "x" * 32, "move": ""},
    )
    assert again.status_code == 302
    assert "La vista previa caducó" in browser.get("/contactos/importar").get_data(as_text=True)


def test_a_bad_header_is_explained_in_spanish(login):
    page = upload(login(), "fax,celular\n1,2\n")
    assert "La primera fila debe nombrar las columnas" in page


def test_the_template_has_the_spanish_header(login):
    text = login().get("/contactos/importar/plantilla").get_data(as_text=True)
    header = text.lstrip("\ufeff").splitlines()[0]
    assert header == "nombre,teléfonos,correos,referencia,empresa,notas,cartera,región"


def test_the_ficha_shows_everything_and_who_took_each_conversation(app, login, make):
    ids = make.org_chart()
    with app.app_context():
        db.session.get(Contact, ids["ana"]).notes = "Prefiere WhatsApp"
        db.session.add(
            Conversation(
                contact_id=ids["ana"],
                channel="whatsapp",
                provider="meta",
                thread_key="t1",
                status="open",
                cartera_id=ids["premium"],
                cartera_name="Premium",
                agent_id=ids["luis"],
                agent_name="Luis",
                served_by_agent_id=ids["marta"],
                routed_to="agent",
                reason="owner_available",
                trace={},
                rc_room_id="ROOM1",
            )
        )
        db.session.commit()
    browser = login()
    html = browser.get(f"/contactos/{ids['ana']}").get_data(as_text=True)
    assert "<title>Ana · Carteras</title>" in html  # the timeline is in the page, not its title
    assert html.count("Historia de la cartera") == 1
    assert "Prefiere WhatsApp" in html
    assert "+52 55 1111 1111" in html  # formatted
    assert "de Luis" in html  # the cartera's owner
    assert "la tomó Marta" in html
    assert "lo agregó a «Premium»" in html  # the history timeline
    assert "/live/ROOM1" not in html  # no Rocket.Chat configured: no link


def test_cambiar_says_where_the_contact_is_and_where_it_goes(app, login, make):
    ids = make.org_chart()
    browser = login()
    path = f"/contactos/{ids['ana']}/cartera"
    asked = browser.submit(path, data={"cartera": str(ids["compartida"])})
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200
    assert "¿Moverlo de «Premium» a «Compartida»?" in html
    with app.app_context():
        assert db.session.get(Contact, ids["ana"]).cartera_id == ids["premium"]  # not yet
    done = browser.client.post(
        path, data={"csrf_token": csrf(html), "cartera": str(ids["compartida"]), "confirm": "1"}
    )
    assert done.status_code == 302
    ficha = browser.get(f"/contactos/{ids['ana']}").get_data(as_text=True)
    assert "Ana pasó de «Premium» a «Compartida»." in ficha
    with app.app_context():
        assert db.session.get(Contact, ids["ana"]).cartera_id == ids["compartida"]
        moved = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == "contact_moved"))
        assert (moved.before["cartera_id"], moved.after["cartera_id"]) == (
            ids["premium"],
            ids["compartida"],
        )
    # a contact without a cartera goes straight in
    done = browser.submit(
        f"/contactos/{ids['dani']}/cartera", data={"cartera": str(ids["premium"])}
    )
    assert done.status_code == 302
    # an agent cannot
    agent = login("agent", ids["luis"], "luis@example.com")
    assert agent.get(path).status_code == 403
