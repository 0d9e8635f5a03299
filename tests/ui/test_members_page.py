"""Gestionar contactos at the scale of a real centre (issue 13, item 4): paged results with
the total and what tells homonyms apart, a search over "En cartera", several at once, and
"Deshacer" as a real, audited undo of the person's own recent change."""

import re

import sqlalchemy as sa

from service.extensions import db
from service.models import AuditEvent, Contact
from tests.ui.conftest import csrf


def cartera_of(app, contact_id):
    with app.app_context():
        return db.session.get(Contact, contact_id).cartera_id


def test_results_are_paged_with_the_total_and_tell_homonyms_apart(login, make):
    team = make.team()
    norte = make.cartera("Norte", team)
    luis = make.agent("Luis", [team])
    oro = make.cartera("Oro", team, luis, "👑")
    make.contact("Adriana Díaz", None, phones=["55 1000 0001"], company="ACME")
    make.contact("Adriana Díaz", oro, emails=["adriana@example.com"])
    for n in range(25):
        make.contact(f"Zeta {n:02d}", None)
    browser = login()
    page = browser.get(f"/carteras/{norte}/contactos?q=adriana").get_data(as_text=True)
    assert "2 resultados" in page
    assert "+52 55 1000 0001 · ACME" in page and "adriana@example.com" in page
    assert "de Luis" in page  # where the other one is, and whose
    first = browser.get(f"/carteras/{norte}/contactos?q=zeta").get_data(as_text=True)
    assert "25 resultados" in first and "Zeta 19" in first and "Zeta 20" not in first
    assert "pr=2" in first
    second = browser.get(f"/carteras/{norte}/contactos?q=zeta&pr=2").get_data(as_text=True)
    assert "Zeta 20" in second and "Zeta 24" in second


def test_several_at_once_search_in_the_cartera_and_undo(app, login, make):
    team = make.team()
    norte, sur = make.cartera("Norte", team), make.cartera("Sur", team)
    ids = [make.contact(name, None) for name in ("Ana", "Beto", "Caro")]
    browser = login()
    page = browser.get(f"/carteras/{norte}/contactos?q=a").get_data(as_text=True)
    added = browser.client.post(
        f"/carteras/{norte}/contactos",
        data={"csrf_token": csrf(page), "contact_id": [str(i) for i in ids]},
    )
    assert added.status_code == 302
    page = browser.get(added.headers["Location"]).get_data(as_text=True)
    assert "3 contactos agregados." in page and "Deshacer" in page
    assert [cartera_of(app, i) for i in ids] == [norte] * 3
    found = browser.get(f"/carteras/{norte}/contactos?qm=bet").get_data(as_text=True)
    members = re.search(r'id="en-cartera".*', found, re.S).group(0)
    assert "Beto" in members and "Caro" not in members
    # move two to Sur, then undo it: they are back in Norte, and the undo is audited
    moved = browser.client.post(
        f"/carteras/{norte}/contactos/seleccion",
        data={
            "csrf_token": csrf(found),
            "contact_id": [str(ids[0]), str(ids[1])],
            "accion": "mover",
            "destino": str(sur),
        },
    )
    page = browser.get(moved.headers["Location"]).get_data(as_text=True)
    assert "2 contactos movidos a «Sur»." in page
    assert [cartera_of(app, i) for i in ids] == [sur, sur, norte]
    events = re.findall(r'name="event_id" value="(\d+)"', page)
    assert len(events) == 2
    undone = browser.client.post(
        f"/carteras/{norte}/contactos/deshacer",
        data={"csrf_token": csrf(page), "event_id": events},
    )
    assert undone.status_code == 302
    assert "Se deshizo el cambio de 2 contactos." in browser.get(
        undone.headers["Location"]
    ).get_data(as_text=True)
    assert [cartera_of(app, i) for i in ids] == [norte] * 3
    with app.app_context():
        undos = [
            e
            for e in db.session.scalars(sa.select(AuditEvent)).all()
            if (e.details or {}).get("undo_of")
        ]
        assert sorted(e.details["undo_of"] for e in undos) == sorted(map(int, events))
        assert {e.event for e in undos} == {"contact_moved"}
    # the same undo twice: the contacts moved since (by the undo itself)
    again = browser.client.post(
        f"/carteras/{norte}/contactos/deshacer",
        data={"csrf_token": csrf(page), "event_id": events},
    )
    assert "alguien cambió esos contactos" in browser.get(again.headers["Location"]).get_data(
        as_text=True
    )
    # remove several, then another person cannot undo it
    page = browser.get(f"/carteras/{norte}/contactos").get_data(as_text=True)
    removed = browser.client.post(
        f"/carteras/{norte}/contactos/seleccion",
        data={"csrf_token": csrf(page), "contact_id": [str(i) for i in ids], "accion": "quitar"},
    )
    page = browser.get(removed.headers["Location"]).get_data(as_text=True)
    assert "3 contactos quitados de la cartera." in page
    events = re.findall(r'name="event_id" value="(\d+)"', page)
    other = login("coordinator", email="otra@example.com")
    token = csrf(other.get(f"/carteras/{norte}/contactos").get_data(as_text=True))
    refused = other.client.post(
        f"/carteras/{norte}/contactos/deshacer", data={"csrf_token": token, "event_id": events}
    )
    assert "Ya no se puede deshacer" in other.get(refused.headers["Location"]).get_data(
        as_text=True
    )
    assert [cartera_of(app, i) for i in ids] == [None] * 3


def test_moving_members_to_a_cartera_the_person_cannot_see_is_refused(app, login, make):
    ids = make.org_chart()
    browser = login()
    page = browser.get(f"/carteras/{ids['premium']}/contactos").get_data(as_text=True)
    wrong = browser.client.post(
        f"/carteras/{ids['premium']}/contactos/seleccion",
        data={
            "csrf_token": csrf(page),
            "contact_id": [str(ids["beto"])],  # in Compartida, not in Premium
            "accion": "mover",
            "destino": str(ids["sur_vip"]),
        },
    )
    assert wrong.status_code == 404
    assert cartera_of(app, ids["beto"]) == ids["compartida"]
