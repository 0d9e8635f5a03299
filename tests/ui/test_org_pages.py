"""Equipos and Agentes (issue 13, item 2), through the Flask test client on both databases:
each action's effect in the database and the audit, CSRF, 403 for a supervisor limited to some
carteras and for agents, Spanish errors next to the field, the handover wizard (preview, then
apply), "Sincronizar con Rocket.Chat" (admins) and the cartera form's agent select."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from service.adapters.rocketchat import RocketChatClient
from service.domain.actor import system_actor
from service.domain.users import set_access
from service.extensions import db
from service.models import Agent, AuditEvent, Cartera, Conversation, Team, User
from tests.fake_rocketchat import FakeRocketChat
from tests.ui.conftest import csrf

ACTOR = system_actor("tests")
ENGLISH = ("already", "must", "Another record", "does not exist", "unknown", "not a member")


@pytest.fixture
def coordinator_page(login):
    return login("coordinator", email="carla@example.com")


@pytest.fixture
def admin_page(login):
    return login("admin", email="ana@example.com")


def error_next_to(html, field):
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match.group(1)


def flashes(html):
    return " ".join(re.findall(r'<p class="flash[^"]*"[^>]*>([^<]*)</p>', html))


def audit_of(app, resource_type, resource_id):
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.resource_type == resource_type, AuditEvent.resource_id == resource_id)
            .order_by(AuditEvent.id)
        )
        return [(e.event, e.actor_name, e.before, e.after) for e in events]


def events_count(app):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def team_row(app, name):
    with app.app_context():
        team = db.session.scalar(sa.select(Team).where(Team.name == name))
        return None if team is None else (team.id, team.rocketchat_department_id)


def agent_row(app, agent_id):
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        if agent is None:
            return None
        return {
            "name": agent.name,
            "email": agent.email,
            "username": agent.rocketchat_username,
            "active": agent.active,
            "teams": sorted(t.name for t in agent.teams),
            "max_open_chats": agent.max_open_chats,
        }


def owner_of(app, cartera_id):
    with app.app_context():
        return db.session.get(Cartera, cartera_id).agent_id


def agent_form(**fields):
    data = {"name": "Rosa Díaz", "email": "rosa@example.com", "active": "y"}
    data.update(fields)
    return data


# --- who may open them ----------------------------------------------------------------------


def org_routes(app):
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/equipos", "/agentes"))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def concrete(rule, ids):
    return (
        rule.replace("<id:team_id>", str(ids["norte"]))
        .replace("<id:agent_id>", str(ids["luis"]))
        .replace("<any(activar, desactivar):state>", "desactivar")
    )


def test_only_managers_with_every_cartera_open_equipos_and_agentes(app, make, login):
    ids = make.org_chart()
    routes = org_routes(app)
    assert len(routes) >= 16, routes
    supervisor = login("coordinator", email="sofia@example.com")
    with app.app_context():
        user = db.session.scalar(sa.select(User.id).where(User.email == "sofia@example.com"))
        set_access(db.session(), ACTOR, user, all_carteras=False, cartera_ids=[ids["premium"]])
        db.session.commit()
    agent = login("agent", ids["luis"])
    before = events_count(app)
    for browser in (supervisor, agent):
        token = csrf(browser.get("/contactos").get_data(as_text=True))
        for rule, method in routes:
            path = concrete(rule, ids)
            if method == "GET":
                response = browser.get(path)
            else:
                data = {"csrf_token": token, "name": "X", "to_agent_id": str(ids["marta"])}
                response = browser.client.post(path, data=data)
            assert response.status_code == 403, (rule, method, response.status_code)
            assert "requiere acceso a todas las carteras" in response.get_data(as_text=True) or (
                "Solo coordinadores" in response.get_data(as_text=True)
            )
        nav = browser.get("/contactos").get_data(as_text=True)
        assert 'href="/equipos"' not in nav and 'href="/agentes"' not in nav
    assert events_count(app) == before  # nothing changed
    assert agent_row(app, ids["luis"])["active"] and owner_of(app, ids["premium"]) == ids["luis"]


def test_managers_with_every_cartera_find_them_under_configuracion(coordinator_page):
    nav = coordinator_page.get("/carteras").get_data(as_text=True)
    menu = nav.split("Configuración", 1)[1]
    assert (
        menu.index('href="/equipos"')
        < menu.index('href="/agentes"')
        < menu.index('href="/regiones"')
    )
    assert "Sincronizar con Rocket.Chat" not in coordinator_page.get("/equipos").get_data(
        as_text=True
    )  # the sync is for admins


def test_signed_out_people_are_sent_to_sign_in(client, make):
    for path in ("/equipos", "/agentes", "/agentes/nuevo"):
        response = client.get(path)
        assert response.status_code == 302 and "/ingresar" in response.headers["Location"]


# --- Equipos --------------------------------------------------------------------------------


def test_teams_list_counts_searches_and_pages(app, make, coordinator_page):
    ids = make.org_chart()
    for n in range(30):
        make.team(f"Cobranza {n:02d}")
    html = coordinator_page.get("/equipos?q=norte").get_data(as_text=True)
    row = re.search(r"<tr>\s*<th scope=\"row\" class=\"name\">Norte</th>(.*?)</tr>", html, re.S)
    assert row, html
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[0] == "dep-norte"
    assert f'team_id={ids["norte"]}">2</a>' in cells[1]  # Luis and Marta
    assert cells[2] == "2"  # Premium and Compartida
    assert "Cobranza" not in html
    first = coordinator_page.get("/equipos").get_data(as_text=True)
    assert "Página 1 de 2" in first and "32 en total" in first
    second = coordinator_page.get("/equipos?page=2&q=cobranza").get_data(as_text=True)
    assert "Página 2 de 2" in second and "q=cobranza" in second
    for odd in ("page=%FF", "q=%00", "page=-1"):
        assert coordinator_page.get(f"/equipos?{odd}").status_code == 200, odd


def test_create_and_edit_a_team_audited(app, coordinator_page):
    done = coordinator_page.submit(
        "/equipos/nuevo",
        data={"name": "  Cobranza   Norte ", "rocketchat_department_id": "dep-cob"},
        follow_redirects=True,
    )
    assert "Equipo Cobranza Norte guardado." in flashes(done.get_data(as_text=True))
    team_id, department = team_row(app, "Cobranza Norte")
    assert department == "dep-cob"
    coordinator_page.submit(
        f"/equipos/{team_id}/editar", data={"name": "Cobranza", "rocketchat_department_id": ""}
    )
    assert team_row(app, "Cobranza") == (team_id, None)
    events = audit_of(app, "team", team_id)
    assert [e[0] for e in events] == ["created", "updated"] and events[0][1] == "carla"
    assert events[1][3] == {"name": "Cobranza", "rocketchat_department_id": None}


def test_team_errors_are_spanish_and_next_to_the_field(make, coordinator_page):
    make.team("Norte", rocketchat_department_id="dep-norte")
    html = coordinator_page.submit("/equipos/nuevo", data={"name": ""}).get_data(as_text=True)
    assert error_next_to(html, "name") == "Este campo es obligatorio."
    html = coordinator_page.submit("/equipos/nuevo", data={"name": "NORTE"}).get_data(as_text=True)
    assert error_next_to(html, "name") == "Ya existe un equipo con ese nombre."
    html = coordinator_page.submit(
        "/equipos/nuevo", data={"name": "Sur", "rocketchat_department_id": "dep-norte"}
    ).get_data(as_text=True)
    assert error_next_to(html, "rocketchat_department_id") == (
        "Otro equipo ya usa ese departamento de Rocket.Chat."
    )
    html = coordinator_page.submit("/equipos/nuevo", data={"name": "x" * 121}).get_data(
        as_text=True
    )
    assert 'id="name-error"' in html
    assert not any(word in html for word in ENGLISH)


def test_a_team_with_carteras_is_not_deleted_and_the_page_links_them(app, make, coordinator_page):
    ids = make.org_chart()
    norte = ids["norte"]
    refused = coordinator_page.submit(
        "/equipos", action=f"/equipos/{norte}/eliminar", follow_redirects=True
    )
    html = refused.get_data(as_text=True)
    assert "No se puede eliminar el equipo Norte: tiene 2 carteras." in flashes(html)
    assert f'href="/carteras/{ids["premium"]}/editar"' in html
    assert f'href="/carteras/{ids["compartida"]}/editar"' in html
    assert team_row(app, "Norte") is not None
    assert [e[0] for e in audit_of(app, "team", norte)] == ["created"]

    empty = make.team("Vacío")
    done = coordinator_page.submit(
        "/equipos", action=f"/equipos/{empty}/eliminar", follow_redirects=True
    )
    assert "Equipo Vacío eliminado." in flashes(done.get_data(as_text=True))
    assert team_row(app, "Vacío") is None
    assert [e[0] for e in audit_of(app, "team", empty)] == ["created", "deleted"]
    assert coordinator_page.get(f"/equipos/{empty}/editar").status_code == 404


# --- Agentes --------------------------------------------------------------------------------


def test_create_an_agent_in_two_teams_audited(app, make, coordinator_page):
    norte, sur = make.team("Norte"), make.team("Sur")
    form = coordinator_page.get("/agentes/nuevo").get_data(as_text=True)
    assert f'type="checkbox" name="team_ids" value="{norte}"' in form
    done = coordinator_page.submit(
        "/agentes/nuevo",
        data=agent_form(
            email="Rosa@Example.com",
            rocketchat_user_id="u-rosa",
            rocketchat_username="rosa",
            team_ids=[str(norte), str(sur)],
            max_open_chats="5",
        ),
        follow_redirects=True,
    )
    assert "Agente Rosa Díaz guardado." in flashes(done.get_data(as_text=True))
    with app.app_context():
        rosa = db.session.scalar(sa.select(Agent.id).where(Agent.rocketchat_user_id == "u-rosa"))
    assert agent_row(app, rosa) == {
        "name": "Rosa Díaz",
        "email": "rosa@example.com",
        "username": "rosa",
        "active": True,
        "teams": ["Norte", "Sur"],
        "max_open_chats": 5,
    }
    ((event, actor, _, after),) = audit_of(app, "agent", rosa)
    assert event == "created" and actor == "carla" and after["team_ids"] == sorted([norte, sur])


def test_agent_errors_are_spanish_and_next_to_the_field(app, make, coordinator_page):
    team = make.team("Norte")
    make.agent("Luis", [team], email="luis@example.com", rocketchat_username="luis")
    cases = [
        ({"email": "LUIS@example.com"}, "email", "Ya existe un agente con ese correo."),
        ({"email": "no-es-correo"}, "email", "correo electrónico válido"),
        ({"rocketchat_username": "luis"}, "rocketchat_username", "Otro agente ya tiene ese"),
        ({"max_open_chats": "0"}, "max_open_chats", "Use un número entre 1 y 1000."),
        ({"name": ""}, "name", "Este campo es obligatorio."),
    ]
    for fields, field, text in cases:
        html = coordinator_page.submit("/agentes/nuevo", data=agent_form(**fields)).get_data(
            as_text=True
        )
        assert text in error_next_to(html, field), (fields, html)
        assert not any(word in html for word in ENGLISH), fields
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Agent)) == 1


def test_leaving_the_team_of_owned_carteras_is_refused_next_to_teams(app, make, coordinator_page):
    ids = make.org_chart()
    luis = ids["luis"]
    html = coordinator_page.submit(
        f"/agentes/{luis}/editar",
        data=agent_form(name="Luis", email="luis@example.com", team_ids=[str(ids["sur"])]),
    ).get_data(as_text=True)
    message = error_next_to(html, "team_ids")
    assert "Es dueño de carteras de un equipo que dejaría (Premium)" in message
    assert agent_row(app, luis)["teams"] == ["Norte"]
    done = coordinator_page.submit(
        f"/agentes/{luis}/editar",
        data=agent_form(
            name="Luis Pérez",
            email="luis@example.com",
            team_ids=[str(ids["norte"]), str(ids["sur"])],
        ),
        follow_redirects=True,
    )
    assert "Agente Luis Pérez guardado." in flashes(done.get_data(as_text=True))
    assert agent_row(app, luis)["teams"] == ["Norte", "Sur"]
    assert audit_of(app, "agent", luis)[-1][0] == "updated"


def test_agents_list_filters_by_text_team_and_state(app, make, coordinator_page):
    ids = make.org_chart()
    coordinator_page.submit("/agentes", action=f"/agentes/{ids['pablo']}/desactivar")
    html = coordinator_page.get("/agentes?q=MARTA@").get_data(as_text=True)
    assert "Marta" in html and "Luis" not in html
    html = coordinator_page.get(f"/agentes?team_id={ids['sur']}").get_data(as_text=True)
    assert "Pablo" in html and "Marta" not in html
    html = coordinator_page.get("/agentes?active=0").get_data(as_text=True)
    assert "Pablo" in html and "Luis" not in html and "Inactivo" in html
    for odd in ("team_id=abc", "team_id=99999", "active=tal-vez", "q=%00", "page=%FF"):
        assert coordinator_page.get(f"/agentes?{odd}").status_code == 200, odd


def test_deactivate_and_activate_an_agent_audited_keeping_the_filters(app, make, coordinator_page):
    ids = make.org_chart()
    marta = ids["marta"]
    done = coordinator_page.submit(
        "/agentes", action=f"/agentes/{marta}/desactivar?q=mar", follow_redirects=True
    )
    html = done.get_data(as_text=True)
    assert "Agente Marta desactivado" in flashes(html) and 'value="mar"' in html
    assert not agent_row(app, marta)["active"]
    done = coordinator_page.submit(
        "/agentes", action=f"/agentes/{marta}/activar", follow_redirects=True
    )
    assert "Agente Marta activado." in flashes(done.get_data(as_text=True))
    assert agent_row(app, marta)["active"]
    assert [e[0] for e in audit_of(app, "agent", marta)][-2:] == ["deactivated", "activated"]


def test_an_agent_with_carteras_or_users_is_not_deleted(app, make, coordinator_page):
    ids = make.org_chart()
    refused = coordinator_page.submit(
        "/agentes", action=f"/agentes/{ids['luis']}/eliminar", follow_redirects=True
    )
    html = refused.get_data(as_text=True)
    assert "No se puede eliminar a Luis: es dueño de 1 cartera" in flashes(html)
    assert f'href="/carteras/{ids["premium"]}/editar"' in html  # its carteras, linked
    assert f'href="/agentes/{ids["luis"]}/traspasar"' in html
    make.user("marta@example.com", "agent", ids["marta"])
    refused = coordinator_page.submit(
        "/agentes", action=f"/agentes/{ids['marta']}/eliminar", follow_redirects=True
    )
    assert "1 usuario ingresa como este agente" in flashes(refused.get_data(as_text=True))
    rosa = make.agent("Rosa")
    done = coordinator_page.submit(
        "/agentes", action=f"/agentes/{rosa}/eliminar", follow_redirects=True
    )
    assert "Agente Rosa eliminado." in flashes(done.get_data(as_text=True))
    assert agent_row(app, rosa) is None and agent_row(app, ids["luis"]) is not None
    assert [e[0] for e in audit_of(app, "agent", rosa)] == ["created", "deleted"]


# --- Traspasar carteras ---------------------------------------------------------------------


def open_conversation(app, cartera_id, agent_id, key):
    with app.app_context():
        conversation = Conversation(
            channel="whatsapp",
            provider="meta",
            thread_key=key,
            status="open",
            cartera_id=cartera_id,
            agent_id=agent_id,
            routed_to="agent",
            reason="owner",
            trace={},
            rc_room_id=f"room-{key}",
        )
        db.session.add(conversation)
        db.session.commit()
        return conversation.id


@pytest.fixture
def queued(monkeypatch):
    """The re-forwards the handover queues (after its commit), recorded instead of run."""
    calls: list[list[int]] = []
    monkeypatch.setattr(
        "service.ui.agents.enqueue_reforwards", lambda ids: calls.append(list(ids)) or len(ids)
    )
    return calls


def test_handover_wizard_previews_then_applies(app, make, coordinator_page, queued):
    ids = make.org_chart()
    luis, marta = ids["luis"], ids["marta"]
    vip = make.cartera("Norte VIP", ids["norte"], luis, "👑")
    first = open_conversation(app, ids["premium"], luis, "1")
    second = open_conversation(app, vip, luis, "2")
    step1 = coordinator_page.get(f"/agentes/{luis}/traspasar").get_data(as_text=True)
    assert "Paso 1 de 2" in step1 and "Solo el equipo" in step1
    assert f'<option value="{luis}"' not in step1  # not to itself
    choice = {"to_agent_id": str(marta), "open_conversations": "reforward", "deactivate_agent": "y"}
    before = events_count(app)
    preview = coordinator_page.submit(f"/agentes/{luis}/traspasar", data=choice)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Paso 2 de 2" in html
    assert "2 carteras pasarían" in html and "a Marta" in html
    assert "Norte VIP" in html and "Premium" in html
    assert "2 conversaciones abiertas se reenviarían ahora" in html
    assert "Luis quedaría inactivo" in html
    assert owner_of(app, ids["premium"]) == luis and events_count(app) == before  # a dry run

    token = csrf(html)
    confirm = re.search(r'action="([^"]+/confirmar)"', html).group(1)
    expected = re.search(r'name="expected" value="([^"]*)"', html).group(1)
    done = coordinator_page.client.post(
        confirm, data={"csrf_token": token, **choice, "expected": expected}, follow_redirects=True
    )
    assert "2 carteras de Luis pasaron a Marta. Luis quedó inactivo." in flashes(
        done.get_data(as_text=True)
    )
    assert owner_of(app, ids["premium"]) == marta and owner_of(app, vip) == marta
    assert not agent_row(app, luis)["active"]
    events = [e[0] for e in audit_of(app, "agent", luis)]
    assert events[-2:] == ["deactivated", "handover"] or events[-2:] == ["handover", "deactivated"]
    assert queued == [sorted([first, second])]


def test_handover_to_the_team_leaving_conversations(app, make, coordinator_page, queued):
    ids = make.org_chart()
    luis = ids["luis"]
    open_conversation(app, ids["premium"], luis, "1")
    choice = {"to_agent_id": "None", "open_conversations": "leave"}
    html = coordinator_page.submit(f"/agentes/{luis}/traspasar", data=choice).get_data(as_text=True)
    assert "1 cartera pasaría" in html and "a su equipo, sin dueño" in html
    assert "1 conversación abierta seguiría con Luis" in html and "Luis seguiría activo" in html
    token = csrf(html)
    coordinator_page.client.post(
        f"/agentes/{luis}/traspasar/confirmar",
        data={"csrf_token": token, **choice, "expected": str(ids["premium"])},
    )
    assert owner_of(app, ids["premium"]) is None and agent_row(app, luis)["active"]
    assert queued == [[]]
    assert audit_of(app, "agent", luis)[-1][0] == "handover"


def test_handover_refusals_are_spanish_next_to_the_field(app, make, coordinator_page, queued):
    ids = make.org_chart()
    luis, pablo = ids["luis"], ids["pablo"]
    html = coordinator_page.submit(
        f"/agentes/{luis}/traspasar", data={"to_agent_id": str(pablo)}
    ).get_data(as_text=True)
    assert "El agente elegido no está en el equipo de: Premium." in error_next_to(
        html, "to_agent_id"
    )
    solo = make.agent("Solo")
    make.cartera("Sin equipo", None, solo)
    html = coordinator_page.submit(
        f"/agentes/{solo}/traspasar", data={"to_agent_id": "None"}
    ).get_data(as_text=True)
    assert "Estas carteras no tienen equipo que las atienda: Sin equipo." in error_next_to(
        html, "to_agent_id"
    )
    assert not any(word in html for word in ENGLISH)
    assert owner_of(app, ids["premium"]) == luis and queued == []


def test_a_stale_preview_is_shown_again_not_applied(app, make, coordinator_page, queued):
    ids = make.org_chart()
    luis = ids["luis"]
    page = coordinator_page.get(f"/agentes/{luis}/traspasar").get_data(as_text=True)
    newer = make.cartera("Nueva de Luis", ids["norte"], luis)
    html = coordinator_page.client.post(
        f"/agentes/{luis}/traspasar/confirmar",
        data={
            "csrf_token": csrf(page),
            "to_agent_id": str(ids["marta"]),
            "open_conversations": "leave",
            "expected": str(ids["premium"]),  # what the preview showed, before "Nueva de Luis"
        },
    ).get_data(as_text=True)
    assert "cambiaron desde la vista previa" in flashes(html)
    assert "2 carteras pasarían" in html and "Nueva de Luis" in html
    assert owner_of(app, newer) == luis and owner_of(app, ids["premium"]) == luis
    assert queued == []


# --- CSRF -----------------------------------------------------------------------------------


def test_every_form_needs_its_csrf_token(app, make, coordinator_page, queued):
    ids = make.org_chart()
    empty = make.team("Vacío")
    before = events_count(app)
    post = coordinator_page.client.post
    assert post("/equipos/nuevo", data={"name": "Otro"}).status_code == 200
    assert post(f"/equipos/{empty}/editar", data={"name": "Otro"}).status_code == 200
    assert post(f"/equipos/{empty}/eliminar").status_code == 400
    assert post("/agentes/nuevo", data=agent_form()).status_code == 200
    assert post(f"/agentes/{ids['marta']}/editar", data=agent_form()).status_code == 200
    assert post(f"/agentes/{ids['marta']}/desactivar").status_code == 400
    assert post(f"/agentes/{ids['marta']}/eliminar").status_code == 400
    choice = {"to_agent_id": str(ids["marta"]), "expected": str(ids["premium"])}
    assert "Paso 2" not in post(f"/agentes/{ids['luis']}/traspasar", data=choice).get_data(
        as_text=True
    )
    post(f"/agentes/{ids['luis']}/traspasar/confirmar", data=choice)
    bad = {"csrf_token": "not-the-token"}  # a stale form: back, "El formulario caducó"
    assert post(f"/agentes/{ids['marta']}/desactivar", data=bad).status_code == 302
    assert events_count(app) == before
    assert owner_of(app, ids["premium"]) == ids["luis"] and team_row(app, "Vacío") is not None
    assert agent_row(app, ids["marta"])["active"] and queued == []


def test_names_are_escaped(make, coordinator_page):
    team = make.team("<script>alert(1)</script>")
    make.agent("<img src=x onerror=alert(1)>", [team])
    for path in ("/equipos", "/agentes", f"/equipos/{team}/editar"):
        html = coordinator_page.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, path


# --- Sincronizar con Rocket.Chat ------------------------------------------------------------


@pytest.fixture
def rc(app, monkeypatch):
    """A fake Rocket.Chat over HTTP with Luis and Marta in the Norte department and an empty
    Sur, wired in as the chat port."""
    with FakeRocketChat(API_Enable_Rate_Limiter=False) as fake:
        client = RocketChatClient(fake.url, fake.user_id, fake.auth_token, timeout=5)
        monkeypatch.setattr(app.extensions["ports"], "chat", client)
        fake.add_agent("u-luis", "luis", name="Luis Pérez")
        fake.add_agent("u-marta", "marta")
        fake.add_department("dep-norte", "Norte", agents=["u-luis", "u-marta"])
        fake.add_department("dep-sur", "Sur")
        yield fake


def teams_and_agents(app):
    with app.app_context():
        teams = sorted(db.session.scalars(sa.select(Team.name)))
        agents = sorted(tuple(r) for r in db.session.execute(sa.select(Agent.name, Agent.active)))
        return teams, agents


def test_sync_shows_the_dry_run_then_applies(app, make, admin_page, rc):
    gone = make.agent("Pablo", rocketchat_user_id="u-pablo")
    before = teams_and_agents(app)
    events = events_count(app)
    page = admin_page.get("/agentes").get_data(as_text=True)
    assert "Sincronizar con Rocket.Chat" in page
    preview = admin_page.submit(
        "/agentes", action="/rocketchat/sincronizar", data={"volver": "agentes"}
    )
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Vista previa" in html
    assert "Se crearían 2 equipos y 2 agentes; 0 cambiarían; 1 agente quedaría inactivo." in html
    assert "Luis Pérez" in html and "Pablo" in html
    assert teams_and_agents(app) == before and events_count(app) == events  # nothing yet

    done = admin_page.client.post(
        "/rocketchat/sincronizar/aplicar",
        data={"csrf_token": csrf(html), "volver": "agentes"},
        follow_redirects=True,
    )
    assert "Sincronizado con Rocket.Chat. Se crearon 2 equipos y 2 agentes" in flashes(
        done.get_data(as_text=True)
    )
    assert done.request.path == "/agentes"
    teams, agents = teams_and_agents(app)
    assert teams == ["Norte", "Sur"]
    assert agents == [("Luis Pérez", True), ("Pablo", False), ("marta", True)]
    assert [e[0] for e in audit_of(app, "agent", gone)][-1] == "deactivated"
    again = admin_page.submit("/equipos", action="/rocketchat/sincronizar").get_data(as_text=True)
    assert "no hay nada que cambiar" in again


@pytest.mark.parametrize(
    ("trouble", "message"),
    [
        ("down", "Rocket.Chat no responde; no se cambió nada."),
        ("refuses", "Rocket.Chat rechazó la consulta"),
    ],
)
def test_sync_troubles_are_spanish_messages_not_errors(app, admin_page, rc, trouble, message):
    if trouble == "down":
        rc.down = True
    else:
        rc.permissions.clear()
    for action in ("/rocketchat/sincronizar", "/rocketchat/sincronizar/aplicar"):
        response = admin_page.submit("/equipos", action=action, follow_redirects=True)
        assert response.status_code == 200 and response.request.path == "/equipos"
        assert message in flashes(response.get_data(as_text=True))
    assert teams_and_agents(app) == ([], [])


def test_sync_without_rocketchat_says_it_is_not_configured(app, admin_page):
    response = admin_page.submit(
        "/equipos", action="/rocketchat/sincronizar", follow_redirects=True
    )
    assert "Rocket.Chat no está configurado" in flashes(response.get_data(as_text=True))


def test_sync_is_for_admins_only(app, coordinator_page, rc):
    token = csrf(coordinator_page.get("/equipos").get_data(as_text=True))
    for action in ("/rocketchat/sincronizar", "/rocketchat/sincronizar/aplicar"):
        response = coordinator_page.client.post(action, data={"csrf_token": token})
        assert response.status_code == 403
        assert "Solo los administradores sincronizan" in response.get_data(as_text=True)
    assert rc.calls_to("livechat/department") == []
    assert teams_and_agents(app) == ([], [])


# --- NUEVA CARTERA: the agent select and the owner's wait ------------------------------------


def test_cartera_form_marks_each_agent_with_its_teams(app, make, coordinator_page):
    ids = make.org_chart()
    both = make.agent("Rosa", [ids["norte"], ids["sur"]])
    html = coordinator_page.get("/carteras/nueva").get_data(as_text=True)
    assert 'data-team-select="team_id"' in html
    assert f'data-teams="{ids["norte"]}" value="{ids["luis"]}"' in html or (
        f'value="{ids["luis"]}" data-teams="{ids["norte"]}"' in html
    )
    teams = " ".join(str(t) for t in sorted([ids["norte"], ids["sur"]]))
    assert f'data-teams="{teams}"' in html and f'value="{both}"' in html


def test_an_agent_outside_the_team_is_refused_in_spanish(app, make, coordinator_page):
    ids = make.org_chart()
    data = {
        "name": "Nueva",
        "icon": "💎",
        "team_id": str(ids["norte"]),
        "agent_id": str(ids["pablo"]),
    }
    html = coordinator_page.submit("/carteras/nueva", data=data).get_data(as_text=True)
    assert "Ese agente no está en el equipo elegido" in error_next_to(html, "agent_id")
    assert not any(word in html for word in ENGLISH)
    with app.app_context():
        assert db.session.scalar(sa.select(Cartera.id).where(Cartera.name == "Nueva")) is None
    done = coordinator_page.submit(
        "/carteras/nueva", data={**data, "agent_id": str(ids["marta"])}, follow_redirects=True
    )
    assert "Cartera guardada." in flashes(done.get_data(as_text=True))


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "Sin límite de espera: la conversación se queda con el dueño"),
        (
            30,
            "30 segundos: si el dueño no responde en 30 segundos, la conversación pasa al equipo.",
        ),
        (90, "1 minuto y 30 segundos: si el dueño no responde en 1 minuto y 30 segundos"),
        (3600, "1 hora: si el dueño no responde en 1 hora,"),
    ],
)
def test_the_owner_wait_is_said_in_words(make, coordinator_page, seconds, words):
    team = make.team("Norte")
    cartera = make.cartera("Premium", team, owner_timeout_seconds=seconds)
    html = coordinator_page.get(f"/carteras/{cartera}/editar").get_data(as_text=True)
    hint = re.search(r'<p class="hint muted" id="owner-wait"[^>]*>([^<]*)</p>', html, re.S)
    assert hint and words in hint.group(1), html
    assert "data-wait-words=" in html
