"""The audit log for people (issue 13, item 5): each event's Spanish ``summary`` and the
``names`` it resolved in GET /api/audit, and GET /api/audit/export (CSV) with the list's
filters and access rule, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.domain import audit
from service.domain.actor import Actor, system_actor
from service.domain.tokens import issue_token
from service.domain.users import set_access
from service.extensions import db
from tests.conftest import Api

BOM = "\ufeff"
HEADER = ["Fecha (America/Mexico_City)", "Usuario", "Evento", "Recurso", "Resumen", "Cambios"]


def rows(response):
    text = response.get_data(as_text=True)
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[1:])))


def supervisor(app, client, granted):
    """A coordinator limited to *granted* carteras."""
    with app.app_context():
        session = db.session()
        issued = issue_token(session, system_actor(), name="Sofía Supervisora", role="coordinator")
        set_access(
            session, system_actor(), issued.token.user_id, all_carteras=False, cartera_ids=granted
        )
        session.commit()
        return Api(client, issued.secret)


def test_a_move_reads_as_a_sentence_with_both_carteras(coordinator, make):
    team = make.team("Norte")
    luis = make.agent("Luis", [team])
    recuperacion = make.cartera("Recuperación", team, None, "🔥")
    gabriela = make.contact("Gabriela Sánchez", recuperacion)
    oro = coordinator.post(
        "/api/carteras",
        {"name": "Clientes Oro", "icon": "👑", "team_id": team, "agent_id": luis},
    ).json["id"]
    moved = coordinator.post(
        f"/api/carteras/{oro}/contacts", {"contact_ids": [gabriela], "move": True}
    )
    assert moved.status_code == 200, moved.json
    items = coordinator.get("/api/audit?q=carla").json["items"]
    move, created = items[0], items[1]
    assert move["summary"] == (
        "Carla Coordinadora movió a Gabriela Sánchez de 🔥 Recuperación a 👑 Clientes Oro"
    )
    assert move["names"]["cartera"] == {str(recuperacion): "Recuperación", str(oro): "Clientes Oro"}
    assert move["names"]["contact"] == {str(gabriela): "Gabriela Sánchez"}
    assert created["summary"] == (
        "Carla Coordinadora creó la cartera 👑 Clientes Oro (equipo Norte, agente Luis)"
    )
    assert created["names"]["team"] == {str(team): "Norte"}
    assert created["names"]["agent"] == {str(luis): "Luis"}
    # the raw record is still there for integrators
    assert created["after"]["team_id"] == team and created["event"] == "created"


def test_the_summary_is_spanish_whatever_the_language_asked(coordinator, make):
    cartera = make.cartera("Premium", make.team())
    coordinator.post(f"/api/carteras/{cartera}/deactivate")
    for query in ("", "&lang=en"):
        item = coordinator.get(
            f"/api/audit?event=deactivated{query}", headers={"Accept-Language": "en"}
        ).json["items"][0]
        assert item["summary"] == "Carla Coordinadora desactivó la cartera 💎 Premium"
        assert item["names"] == {"cartera": {str(cartera): "Premium"}}


def test_grants_and_imports_read_as_sentences(admin, make):
    premium = make.cartera("Premium", make.team())
    sur = make.cartera("Sur VIP", make.team("Sur"), None, "⭐")
    pedro = admin.post(
        "/api/users",
        {
            "name": "Pedro",
            "email": "pedro@example.com",
            "role": "coordinator",
            "all_carteras": False,
            "cartera_ids": [premium],
        },
    ).json["id"]
    admin.patch(f"/api/users/{pedro}", {"cartera_ids": [premium, sur]})
    admin.post(
        "/api/contacts/import",
        data=b"name,phones,cartera\nZoe,55 9999 9999,Premium\nMala,xx,\n",
        content_type="text/csv",
        json=None,
    )
    summaries = [e["summary"] for e in admin.get("/api/audit?q=ana").json["items"]]
    assert summaries[0] == "Ana Admin importó un CSV de contactos: 2 filas, 1 nuevo, 1 rechazado"
    assert "Ana Admin dio a Pedro acceso a 1 cartera: ⭐ Sur VIP" in summaries
    assert "Ana Admin creó el usuario Pedro (coordinador)" in summaries


def test_names_are_looked_up_once_per_page_not_once_per_event(app, coordinator, make):
    def statements(count):
        team = make.team(f"Equipo {count}")
        for n in range(count):
            make.cartera(f"C{count}-{n}", team)
        seen = []

        def listen(*args):
            seen.append(args[2])

        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", listen)
        try:
            response = coordinator.get(f"/api/audit?q=C{count}-&per_page=100")
        finally:
            with app.app_context():
                sa.event.remove(db.engine, "before_cursor_execute", listen)
        assert response.json["total"] == count
        return len(seen)

    assert statements(3) == statements(30)


def test_export_follows_the_filters(coordinator, make):
    team = make.team("Norte")
    premium = make.cartera("Premium", team)
    make.cartera("Oro", team, None, "👑")
    coordinator.post(f"/api/carteras/{premium}/deactivate")
    response = coordinator.get("/api/audit/export?event=deactivated")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "auditoria.csv" in response.headers["Content-Disposition"]
    table = rows(response)
    assert table[0] == HEADER
    assert len(table) == 2
    local, user, event, resource, summary, changes = table[1]
    assert user == "Carla Coordinadora" and event == "Desactivado"
    assert resource == "cartera 💎 Premium"
    assert summary == "Carla Coordinadora desactivó la cartera 💎 Premium"
    assert changes == "Activa: sí → no"
    shown = datetime.strptime(local, "%Y-%m-%d %H:%M")
    now_mx = datetime.now(UTC) - timedelta(hours=6)  # Mexico City keeps UTC-6 all year
    assert abs(shown - now_mx.replace(tzinfo=None)) < timedelta(minutes=2)
    names = {r[3] for r in rows(coordinator.get("/api/audit/export?q=oro&resource_type=cartera"))}
    assert names == {"Recurso", "cartera 👑 Oro"}
    today = datetime.now(UTC).date()
    old = rows(coordinator.get(f"/api/audit/export?to={today - timedelta(days=3)}"))
    assert old == [HEADER]


def test_export_pages_through_every_event(app, coordinator):
    actor = Actor(user_id=None, name="reloj", role="admin")
    now = datetime.now(UTC)
    with app.app_context():
        for n in range(audit.EXPORT_BATCH + 7):
            # a few share one instant: the keyset paging must not drop or repeat them
            at = now - timedelta(seconds=n // 3)
            audit.record(db.session(), actor, "created", "team", None, f"T{n}", now=at)
        db.session.commit()
    table = rows(coordinator.get("/api/audit/export?q=reloj"))
    assert len(table) == 1 + audit.EXPORT_BATCH + 7
    assert len({r[4] for r in table[1:]}) == audit.EXPORT_BATCH + 7


def test_export_cells_are_spreadsheet_safe(client, make):
    """A user or resource named like a formula stays text in a spreadsheet."""
    formula = Api(client, make.token("coordinator", "=2+3"))
    team = make.team("Norte")
    formula.post("/api/carteras", {"name": "@SUM(A1)", "icon": "x", "team_id": team})
    table = rows(formula.get("/api/audit/export?event=created&resource_type=cartera"))
    assert table[1][1] == "'=2+3"
    assert table[1][3] == "cartera x @SUM(A1)"  # not at the start of the cell: harmless
    assert table[1][4].startswith("'=2+3 creó la cartera x @SUM(A1)")
    assert not any(cell.startswith(("=", "@", "+", "-")) for row in table for cell in row)


def test_bad_export_filters_are_422(coordinator):
    for query in ("event=renamed", "from=ayer", "from=2026-02-01&to=2026-01-01"):
        response = coordinator.get(f"/api/audit/export?{query}")
        assert response.status_code == 422, query


def test_a_supervisor_exports_only_its_carteras_events(app, client, make):
    ids = make.org_chart()
    sofia = supervisor(app, client, [ids["premium"], ids["compartida"]])
    listed = {e["summary"] for e in sofia.get("/api/audit?per_page=200").json["items"]}
    exported = {r[4] for r in rows(sofia.get("/api/audit/export"))[1:]}
    assert exported == listed
    assert "factory agregó a Ana a la cartera 💎 Premium" in exported
    assert not any("Sur VIP" in s or "Caro" in s for s in exported)
    assert not any("creó el equipo" in s for s in exported)  # not a cartera's event


def test_agents_cannot_export_the_audit(as_agent, make):
    response = as_agent(make.agent()).get("/api/audit/export")
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_a_streamed_export_leaves_no_transaction_open(app, backend, coordinator, make):
    """The export streams after the view returned: it uses (and closes) the streaming
    context's session, and queries nothing until its header has gone out, so a response
    read to its end, or one whose reader stopped after the first chunk, holds no
    transaction (PostgreSQL would keep its locks)."""
    if backend.name != "postgresql":
        pytest.skip("pg_stat_activity is PostgreSQL's")
    make.team("Norte")

    def idle_in_transaction():
        with app.app_context():
            found = db.session.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
                )
            )
            db.session.remove()
        return found

    assert len(rows(coordinator.get("/api/audit/export"))) > 1
    assert idle_in_transaction() == 0
    unread = coordinator.get("/api/audit/export")  # the test client reads one chunk only
    try:
        assert idle_in_transaction() == 0
    finally:
        unread.close()


def test_a_nul_in_the_search_is_ignored_not_an_error(coordinator, make):
    """PostgreSQL refuses NUL in text, and the export would fail after its 200 began."""
    make.team("Norte")
    listed = coordinator.get("/api/audit?q=nor%00te")
    assert listed.status_code == 200 and listed.json["total"] == 1
    exported = rows(coordinator.get("/api/audit/export?q=%00"))
    assert len(exported) > 1
