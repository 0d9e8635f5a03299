"""Exported CSV cells never start a spreadsheet formula (OWASP CSV injection), whatever
arrived from a channel, and an export imports back to the same data."""

import csv
import io

from service.extensions import db
from service.models import ContactIdentity

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def exported(api, path="/api/contacts/export"):
    response = api.get(path)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))


def add_raw_identity(app, contact_id, kind, value):
    """What intake stores for a handle that did not parse: the text as the channel sent it."""
    with app.app_context():
        db.session.add(ContactIdentity(contact_id=contact_id, kind=kind, value=value))
        db.session.commit()


def assert_defused(rows):
    for row in rows[1:]:
        for cell in row:
            unsafe = cell.startswith(TRIGGERS) and cell.lstrip("+;0123456789 ") != ""
            assert not unsafe, (cell, row)


def test_channel_handles_and_fields_are_defused_but_phones_kept(app, coordinator, make):
    team = make.team()
    cartera = make.cartera("@Cartera", team)
    ana = make.contact(
        "-2+3 Ana",
        cartera,
        phones=["+52 55 1234 5678"],
        external_ref="=1+1",
        company="+cmd|' /C calc'!A0",
    )
    add_raw_identity(app, ana, "phone", "=cmd|' /C calc'!A0")
    beto = make.contact("Beto", None)
    add_raw_identity(app, beto, "phone", '+1+HYPERLINK("http://evil")')
    add_raw_identity(app, beto, "email", "@SUM(1+1)*cmd|' /C calc'!A0")
    add_raw_identity(app, beto, "email", "\tb@example.com")

    rows = exported(coordinator)
    assert_defused(rows)
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["'-2+3 Ana"] == [
        "'-2+3 Ana",
        "'+525512345678;=cmd|' /C calc'!A0",  # "+" then more than a phone list
        "",
        "'=1+1",
        "'+cmd|' /C calc'!A0",
        "",  # no notes
        "'@Cartera",
        "",  # no region
    ]
    assert by_name["Beto"][1] == '\'+1+HYPERLINK("http://evil")'
    assert by_name["Beto"][2] == "'@SUM(1+1)*cmd|' /C calc'!A0;\tb@example.com"


def test_a_legit_phone_is_exported_as_is(coordinator, make):
    make.contact("Ana", None, phones=["+52 1 55 1234 5678", "+52 33 1234 5678"])
    rows = exported(coordinator)
    assert rows[1][1] == "+525512345678;+523312345678"


def test_the_page_export_is_defused_too(app, make):
    from tests.ui.conftest import Browser, csrf

    make.contact('=HYPERLINK("http://evil")', None, company="@x")
    make.user("carla@example.com", "coordinator")
    browser = Browser(app.test_client())
    page = browser.get("/ingresar").get_data(as_text=True)
    browser.client.post(
        "/ingresar",
        data={
            "csrf_token": csrf(page),
            "email": "carla@example.com",
            "password": "una-clave-segura",
        },
    )
    rows = exported(browser, "/contactos/exportar")
    assert rows[1][0] == '\'=HYPERLINK("http://evil")' and rows[1][4] == "'@x"
    assert_defused(rows)


def test_export_imports_back_to_the_same_data(coordinator, make):
    team = make.team()
    make.cartera("=Cartera", team)
    make.contact(
        "-Ana-",
        None,
        phones=["+52 55 1234 5678"],
        emails=["ana@example.com"],
        external_ref="@ref",
        company="'=quoted on purpose",
    )
    before = coordinator.get("/api/contacts").json["items"]
    text = coordinator.get("/api/contacts/export").get_data(as_text=True)
    again = coordinator.post(
        "/api/contacts/import", data=text.encode(), content_type="text/csv", json=None
    )
    assert again.json["unchanged"] == 1 and again.json["rejected"] == 0, again.json
    after = coordinator.get("/api/contacts").json["items"]
    assert after == before
    assert after[0]["company"] == "'=quoted on purpose" and after[0]["name"] == "-Ana-"


def test_import_takes_off_the_quote_of_a_defused_cell(coordinator, make):
    make.team()
    text = "name,phones,emails,external_ref,company,cartera\n'=Ana,'+52 55 1234 5678,,'@r,'-x,\n"
    report = coordinator.post(
        "/api/contacts/import", data=text.encode(), content_type="text/csv", json=None
    ).json
    assert report["created"] == 1, report
    (ana,) = coordinator.get("/api/contacts").json["items"]
    assert (ana["name"], ana["external_ref"], ana["company"]) == ("=Ana", "@r", "-x")
    assert ana["phones"] == ["+525512345678"]
