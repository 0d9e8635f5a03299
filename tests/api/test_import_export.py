"""CSV import and export of contacts."""

import csv
import io

import pytest
import sqlalchemy as sa

from service.domain import bulk, imports
from service.extensions import db
from service.models import Contact, ContactIdentity

HEADER = "name,phones,emails,external_ref,company,cartera,region\n"
EXPORT_HEADER = "name,phones,emails,external_ref,company,notes,cartera,region\n"


def post_csv(api, text, encoding="utf-8", **kw):
    return api.post(
        "/api/contacts/import", data=text.encode(encoding), content_type="text/csv", json=None, **kw
    )


@pytest.fixture
def carteras(make):
    team = make.team()
    return {"premium": make.cartera("Premium", team), "norte": make.cartera("Norte", team)}


def test_import_creates_updates_moves_and_reports_bad_rows(coordinator, make, carteras):
    existing = make.contact("Ana Vieja", carteras["norte"], phones=["+52 55 1111 1111"])
    unchanged = make.contact("Ceci", None, external_ref="CRM-3")
    text = HEADER + (
        "Ana López,55 1111 1111,ana@example.com,,ACME,premium\n"  # matched by phone: moved
        'Beto,"55 2222 2222;+52 33 1234 5678",,CRM-2,,Norte\n'  # new
        "Ceci,,,CRM-3,,\n"  # matched by ref, nothing new
        "Dani,no es teléfono,,,,\n"  # bad phone
        "Eva,,eva@,,,\n"  # bad email
        ",55 3333 3333,,,,\n"  # no name
        "Fer,55 4444 4444,,,,Inexistente\n"  # unknown cartera
        "Beto Dos,55 2222 2222,,,,\n"  # same phone as a row above: updates that new contact
    )
    response = post_csv(coordinator, text, query_string={"move": "true"})
    assert response.status_code == 200, response.json
    report = response.json
    assert {
        k: report[k] for k in ("rows", "created", "updated", "moved", "unchanged", "rejected")
    } == {"rows": 8, "created": 1, "updated": 1, "moved": 1, "unchanged": 1, "rejected": 4}
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (5, "phones"),
        (6, "emails"),
        (7, "name"),
        (8, "cartera"),
    ]
    ana = coordinator.get(f"/api/contacts/{existing}").json
    assert ana["name"] == "Ana López" and ana["cartera"]["name"] == "Premium"
    # the row renamed an existing contact: said in the report and audited on the contact
    assert report["renamed"] == [
        {"row": 2, "contact_id": existing, "before": "Ana Vieja", "after": "Ana López"}
    ]
    (renamed,) = coordinator.get(
        f"/api/audit?resource_type=contact&resource_id={existing}&event=updated"
    ).json["items"]
    assert (renamed["before"], renamed["after"]) == ({"name": "Ana Vieja"}, {"name": "Ana López"})
    assert renamed["details"] == {"source": "import", "row": 2}
    assert ana["emails"] == ["ana@example.com"] and ana["company"] == "ACME"
    beto = coordinator.get("/api/contacts", query_string={"q": "CRM-2"}).json["items"][0]
    assert beto["name"] == "Beto Dos"
    assert beto["phones"] == ["+525522222222", "+523312345678"]
    assert beto["cartera"]["name"] == "Norte"
    assert coordinator.get(f"/api/contacts/{unchanged}").json["name"] == "Ceci"

    imported = coordinator.get("/api/audit?event=imported").json["items"]
    assert len(imported) == 1 and imported[0]["after"]["created"] == 1
    moved = coordinator.get("/api/audit?event=contact_moved").json["items"]
    assert [(m["related_name"], m["before"]["cartera"], m["after"]["cartera"]) for m in moved] == [
        ("Ana López", "Norte", "Premium")
    ]


def test_a_large_import_gives_each_contact_its_own_row_values(
    coordinator, app, carteras, monkeypatch
):
    """Written in bulk (COPY on PostgreSQL, while the next rows are parsed): each new
    contact gets its own row's phone, email, ref and cartera, whatever the chunk it went in."""
    monkeypatch.setattr(bulk, "PG_BATCH", 500)
    monkeypatch.setattr(imports, "CHUNK", 400)
    rows = 1_234
    text = HEADER + "".join(
        f"Cliente {i},55 1{i // 1000:03d} {i % 1000:04d},c{i}@example.com,REF-{i},,"
        f"{'Premium' if i % 3 == 0 else ''}\n"
        for i in range(rows)
    )
    report = post_csv(coordinator, text).json
    assert (report["created"], report["rejected"]) == (rows, 0)
    with app.app_context():
        found = {
            (name, ref, cartera, kind, value)
            for name, ref, cartera, kind, value in db.session.execute(
                sa.select(
                    Contact.name,
                    Contact.external_ref,
                    Contact.cartera_id,
                    ContactIdentity.kind,
                    ContactIdentity.value,
                ).join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
            )
        }
    expected = set()
    for i in range(rows):
        cartera = carteras["premium"] if i % 3 == 0 else None
        expected.add(
            (f"Cliente {i}", f"REF-{i}", cartera, "phone", f"+52551{i // 1000:03d}{i % 1000:04d}")
        )
        expected.add((f"Cliente {i}", f"REF-{i}", cartera, "email", f"c{i}@example.com"))
    assert found == expected


@pytest.mark.parametrize("chunk", [2, 10_000])
def test_rows_in_later_chunks_see_what_earlier_rows_did(
    coordinator, make, carteras, monkeypatch, chunk
):
    """The file is matched and written a chunk of rows at a time: a later row finds the
    contact an earlier chunk created or changed, as if the file were one chunk."""
    monkeypatch.setattr(imports, "CHUNK", chunk)
    old = make.contact("Olga", carteras["norte"], phones=["+52 55 9999 0000"], external_ref="R-9")
    text = HEADER + (
        "Ana,55 1111 1111,,,,\n"  # new, chunk 1
        "Beto,55 2222 2222,,R-2,,\n"  # new, chunk 1
        "Ana María,55 1111 1111,ana@example.com,,ACME,Premium\n"  # renames Ana, chunk 2
        "Beto B,,,R-2,,Norte\n"  # Beto by ref, into Norte, chunk 2
        "Olga,,olga@example.com,R-9,Olga SA,\n"  # existing, by ref, chunk 3
        "Beto C,,,R-2,,Premium\n"  # moves Beto out of Norte, chunk 3
        "X,55 1111 1111,olga@example.com,,,\n"  # Ana's phone, Olga's new email: refused
        "Carla,55 3333 3333;55 2222 2222,,,,\n"  # Beto's phone: adds a phone to Beto
        "Olga,55 9999 0000,,,,\n"  # existing, unchanged
    )
    report = post_csv(coordinator, text, query_string={"move": "true"}).json
    assert {
        k: report[k] for k in ("rows", "created", "updated", "moved", "unchanged", "rejected")
    } == {"rows": 9, "created": 2, "updated": 4, "moved": 1, "unchanged": 1, "rejected": 1}
    (refused,) = report["errors"]
    assert refused["row"] == 8 and "different contacts" in refused["message"]
    assert report["renamed"] == []  # only contacts that existed before the file
    (moved,) = report["moves"]
    assert (moved["name"], moved["before"], moved["after"]) == ("Carla", "Norte", "Premium")
    found = {c["name"]: c for c in coordinator.get("/api/contacts?per_page=50").json["items"]}
    assert set(found) == {"Ana María", "Carla", "Olga"}
    ana, beto, olga = found["Ana María"], found["Carla"], found["Olga"]
    assert (ana["phones"], ana["emails"], ana["company"]) == (
        ["+525511111111"],
        ["ana@example.com"],
        "ACME",
    )
    assert ana["cartera"]["name"] == "Premium"
    assert (beto["external_ref"], beto["cartera"]["name"]) == ("R-2", "Premium")
    assert beto["phones"] == ["+525522222222", "+525533333333"]
    assert (olga["id"], olga["phones"], olga["emails"], olga["company"]) == (
        old,
        ["+525599990000"],
        ["olga@example.com"],
        "Olga SA",
    )
    moved_events = coordinator.get("/api/audit?event=contact_moved").json["items"]
    assert [(m["before"]["contact_id"], m["before"]["cartera"]) for m in moved_events] == [
        (beto["id"], "Norte")
    ]


def test_a_value_the_database_refuses_fails_the_whole_import(coordinator, backend, app):
    """A COPY the server refuses (PostgreSQL: a company over 200 characters) fails like a
    refused INSERT: 422, nothing saved, and the next request works. SQLite keeps it."""
    text = HEADER + "Ana,55 1111 1111,,,ACME,\n" + f"Beto,55 2222 2222,,,{'x' * 201},\n"
    response = post_csv(coordinator, text)
    if backend.name == "postgresql":
        assert response.status_code == 422, response.json
        assert coordinator.get("/api/contacts").json["total"] == 0
        assert coordinator.get("/api/audit?event=imported").json["total"] == 0
    else:
        assert response.json["created"] == 2
    again = post_csv(coordinator, HEADER + "Carla,55 3333 3333,,,,\n")
    assert again.status_code == 200 and again.json["created"] == 1


def test_import_without_move_rejects_rows_in_other_carteras(coordinator, make, carteras):
    make.contact("Ana", carteras["norte"], phones=["55 1111 1111"])
    response = post_csv(
        coordinator, HEADER + "Ana,55 1111 1111,,,,Premium\n", query_string={"move": "false"}
    )
    assert response.json["rejected"] == 1 and response.json["moved"] == 0


def test_row_whose_handles_belong_to_two_contacts_is_rejected(coordinator, make):
    make.contact("Ana", phones=["55 1111 1111"])
    make.contact("Beto", emails=["beto@example.com"])
    response = post_csv(coordinator, HEADER + "X,55 1111 1111,beto@example.com,,,\n")
    assert response.json["rejected"] == 1
    assert "different contacts" in response.json["errors"][0]["message"]


def test_semicolon_delimited_windows_1252_file(coordinator, carteras):
    text = "name;phones;emails;cartera\nJosé Núñez;55 1234 5678;jose@example.com;Premium\n"
    response = post_csv(coordinator, text, encoding="cp1252")
    assert response.json["created"] == 1, response.json
    found = coordinator.get("/api/contacts", query_string={"q": "nunez"}).json["items"]
    assert found[0]["name"] == "José Núñez"


@pytest.mark.parametrize("text", ["", "nombre,fax\nAna,55\n", "name,phone\nAna,55 1111 1111\n"])
def test_bad_header_rejects_the_whole_file(coordinator, text):
    response = post_csv(coordinator, text)
    assert response.status_code == 422
    assert coordinator.get("/api/contacts").json["total"] == 0


def test_import_needs_csv_content_type(coordinator):
    response = coordinator.post(
        "/api/contacts/import", data=HEADER.encode(), content_type="application/json", json=None
    )
    assert response.status_code == 415


def test_import_size_limit_answers_413(coordinator, app, monkeypatch):
    config = app.config["CARTERAS"]
    monkeypatch.setitem(app.config, "CARTERAS", config.with_overrides(import_max_bytes=100))
    response = post_csv(coordinator, HEADER + "Ana,,,,,\n" * 20)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"


def test_export_round_trips_and_defuses_formulas(coordinator, make, carteras):
    make.contact(
        "Ana",
        carteras["premium"],
        phones=["55 1111 1111", "55 2222 2222"],
        emails=["ana@example.com"],
        external_ref="CRM-1",
        company="=HYPERLINK()",
    )
    make.contact("Beto", emails=["beto@example.com"])
    response = coordinator.get("/api/contacts/export")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == {
        "name": "Ana",
        "phones": "+525511111111;+525522222222",
        "emails": "ana@example.com",
        "external_ref": "CRM-1",
        "company": "'=HYPERLINK()",
        "notes": "",
        "cartera": "Premium",
        "region": "",
    }
    assert rows[1]["name"] == "Beto" and rows[1]["cartera"] == ""
    # importing the export again changes nothing
    again = post_csv(coordinator, response.get_data(as_text=True))
    assert again.json["unchanged"] == 2 and again.json["rejected"] == 0, again.json
    assert coordinator.get("/api/contacts?q=Ana").json["items"][0]["company"] == "=HYPERLINK()"


def test_export_of_nothing_is_just_the_header(coordinator):
    assert coordinator.get("/api/contacts/export").get_data(as_text=True) == EXPORT_HEADER


def test_dry_run_saves_nothing_and_lists_moves_and_renames(coordinator, make, carteras):
    ana = make.contact("Ana Vieja", carteras["norte"], phones=["+52 55 1111 1111"])
    text = "nombre,Teléfonos,CARTERA\nAna López,55 1111 1111,Premium\n"  # Spanish header
    preview = post_csv(coordinator, text, query_string={"move": "true", "dry_run": "true"})
    assert preview.status_code == 200, preview.json
    assert preview.json["moves"] == [
        {"contact_id": ana, "name": "Ana López", "before": "Norte", "after": "Premium"}
    ]
    assert preview.json["renamed"][0]["after"] == "Ana López"
    still = coordinator.get(f"/api/contacts/{ana}").json
    assert (still["name"], still["cartera"]["name"]) == ("Ana Vieja", "Norte")
    assert coordinator.get("/api/audit?event=imported").json["total"] == 0
    # without move, the row is refused and nothing moves
    refused = post_csv(coordinator, text).json
    assert refused["rejected"] == 1 and refused["moves"] == []


def test_export_follows_the_lists_filters_and_speaks_excel(coordinator, make, carteras):
    import openpyxl

    make.contact("Ana", carteras["premium"], company="ACME", notes="VIP")
    make.contact("Beto", None, company="Otra")
    text = coordinator.get("/api/contacts/export?company=acm").get_data(as_text=True)
    assert [r["name"] for r in csv.DictReader(io.StringIO(text))] == ["Ana"]
    text = coordinator.get("/api/contacts/export?unassigned=true&headers=es").get_data(as_text=True)
    assert [r["nombre"] for r in csv.DictReader(io.StringIO(text))] == ["Beto"]
    book = coordinator.get("/api/contacts/export?format=xlsx")
    assert book.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(book.get_data())).active.values)
    assert rows[0][0] == "name" and [r[0] for r in rows[1:]] == ["Ana", "Beto"]
    assert rows[1][5] == "VIP"
    assert coordinator.get("/api/contacts/export?format=pdf").status_code == 422


def test_excel_export_drops_what_a_worksheet_cannot_hold(coordinator, carteras):
    """A name stored with a control character (an escape pasted from a terminal; the fuzz
    test found one) is exported without it, instead of failing the whole workbook."""
    import openpyxl

    created = coordinator.post("/api/contacts", json={"name": "G\x1b*", "notes": "a\x07b"})
    assert created.status_code == 201, created.json
    book = coordinator.get("/api/contacts/export?format=xlsx")
    assert book.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(book.get_data())).active.values)
    assert rows[1][0] == "G*" and rows[1][5] == "ab"
    text = coordinator.get("/api/contacts/export").get_data(as_text=True)
    assert "G\x1b*" in text  # the CSV keeps the value as stored
