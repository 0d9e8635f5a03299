"""Usuarios (admins only), through the Flask test client: each action's effect in the database
and the audit, CSRF, 403 for other roles, Spanish errors next to the field, a token shown once,
names escaped."""

import re

import pytest
import sqlalchemy as sa

from service.extensions import db
from service.models import ApiToken, AuditEvent, User
from tests.ui.conftest import PASSWORD, Browser, csrf

ADMIN = "ana@example.com"
NEW_PASSWORD = "otra-clave-mas-larga"


@pytest.fixture
def admin_page(login):
    return login("admin", email=ADMIN)


def user_row(app, email):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        assert user is not None, email
        return {
            "id": user.id,
            "name": user.name,
            "role": user.role,
            "agent_id": user.agent_id,
            "active": user.active,
            "all_carteras": user.all_carteras,
            "carteras": sorted(c.id for c in user.carteras),
        }


def audit_of(app, resource_type, resource_id):
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.resource_type == resource_type, AuditEvent.resource_id == resource_id)
            .order_by(AuditEvent.id)
        )
        return [(e.event, e.actor_name, e.before, e.after, e.details) for e in events]


def profile(**fields):
    data = {"name": "Nora Norte", "email": "nora@example.com", "role": "coordinator"}
    data.update(fields)
    return data


def error_next_to(html, field):
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match.group(1)


def sign_in(app, email, password=PASSWORD):
    browser = Browser(app.test_client())
    response = browser.submit("/ingresar", data={"email": email, "password": password})
    return browser, response.status_code == 302


# --- who may open it -------------------------------------------------------------------------


def user_routes(app):
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/usuarios")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def concrete(rule, user_id, token_id=1):
    return (
        rule.replace("<id:user_id>", str(user_id))
        .replace("<id:token_id>", str(token_id))
        .replace("<any(activar, desactivar):state>", "desactivar")
    )


def test_every_users_route_is_for_admins_only(app, make, login):
    routes = user_routes(app)
    assert len(routes) >= 10, routes  # list, new, edit, state, password, tokens, revoke
    target = make.user("zoe@example.com", "coordinator")
    team = make.team("Norte")
    for browser in (login("coordinator"), login("agent", make.agent("Luis", [team]))):
        token = csrf(browser.get("/contactos").get_data(as_text=True))
        for rule, method in routes:
            path = concrete(rule, target)
            if method == "GET":
                response = browser.get(path)
            else:
                response = browser.client.post(path, data={"csrf_token": token, **profile()})
            assert response.status_code == 403, (rule, method)
            html = response.get_data(as_text=True)
            assert "Solo los administradores gestionan usuarios." in html
        assert "/usuarios" not in browser.get("/contactos").get_data(as_text=True)  # no nav item
    assert user_row(app, "zoe@example.com")["active"]


def test_signed_out_people_are_sent_to_sign_in(client, make):
    target = make.user("zoe@example.com", "coordinator")
    for path in ("/usuarios", "/usuarios/nuevo", f"/usuarios/{target}/tokens"):
        response = client.get(path)
        assert response.status_code == 302 and "/ingresar" in response.headers["Location"]


def test_admins_find_usuarios_under_configuracion(admin_page):
    html = admin_page.get("/contactos").get_data(as_text=True)
    assert "Configuración" in html and 'href="/usuarios"' in html


# --- list -----------------------------------------------------------------------------------


def test_list_searches_filters_and_pages(app, make, admin_page):
    team = make.team("Norte")
    make.user("beto@example.com", "agent", make.agent("Beto", [team]))
    for n in range(30):
        make.user(f"coord{n:02d}@example.com", "coordinator")
    make.user("zeta@otra.mx", "coordinator")
    admin_page.submit(
        "/usuarios", action=f"/usuarios/{user_row(app, 'zeta@otra.mx')['id']}/desactivar"
    )

    html = admin_page.get("/usuarios?q=OTRA.mx").get_data(as_text=True)
    assert "zeta@otra.mx" in html and "beto@example.com" not in html
    html = admin_page.get("/usuarios?role=agent").get_data(as_text=True)
    assert "beto@example.com" in html and "coord01@" not in html and "Agente: Beto" in html
    html = admin_page.get("/usuarios?active=0").get_data(as_text=True)
    assert "zeta@otra.mx" in html and "Inactivo" in html and "beto@" not in html
    first = admin_page.get("/usuarios?role=coordinator").get_data(as_text=True)
    assert "Página 1 de 2" in first and "31 en total" in first
    assert "role=coordinator" in first.split("Siguiente")[0].rsplit("href=", 1)[1]
    second = admin_page.get("/usuarios?role=coordinator&page=2").get_data(as_text=True)
    assert "Página 2 de 2" in second
    for odd in ("role=root", "active=maybe", "page=%FF", "q=%00"):
        assert admin_page.get(f"/usuarios?{odd}").status_code == 200, odd


# --- create and edit ------------------------------------------------------------------------


def test_admin_creates_a_user_with_two_carteras(app, make, admin_page):
    team = make.team("Norte")
    premium = make.cartera("Premium", team)
    sur = make.cartera("Sur", team, icon="⭐")
    make.cartera("Otra", team)
    response = admin_page.submit(
        "/usuarios/nuevo",
        data=profile(password=NEW_PASSWORD, cartera_ids=[str(premium), str(sur)]),
        follow_redirects=True,
    )
    assert "Usuario Nora Norte creado." in response.get_data(as_text=True)
    nora = user_row(app, "nora@example.com")
    assert nora["carteras"] == sorted([premium, sur]) and not nora["all_carteras"]
    assert nora["role"] == "coordinator" and nora["active"]
    (event,) = audit_of(app, "user", nora["id"])
    assert event[0] == "created" and event[1] == "ana"
    assert {c["name"] for c in event[3]["carteras"]} == {"Premium", "Sur"}
    _, signed = sign_in(app, "nora@example.com", NEW_PASSWORD)
    assert signed


def test_an_agent_user_needs_its_agent(app, make, admin_page):
    luis = make.agent("Luis", [make.team("Norte")])
    html = admin_page.submit("/usuarios/nuevo", data=profile(role="agent")).get_data(as_text=True)
    assert error_next_to(html, "agent_id") == "Elija el agente vinculado a este usuario."
    created = admin_page.submit(
        "/usuarios/nuevo", data=profile(role="agent", agent_id=str(luis), all_carteras="y")
    )
    assert created.status_code == 302
    nora = user_row(app, "nora@example.com")
    assert nora["agent_id"] == luis and nora["all_carteras"]
    # a coordinator ignores the agent chosen in the form
    admin_page.submit(
        f"/usuarios/{nora['id']}/editar", data=profile(agent_id=str(luis), active="y")
    )
    assert user_row(app, "nora@example.com")["agent_id"] is None


def test_validation_errors_are_spanish_and_next_to_the_field(make, admin_page):
    make.user("taken@example.com", "coordinator")
    html = admin_page.submit("/usuarios/nuevo", data=profile(name="", email="")).get_data(
        as_text=True
    )
    assert error_next_to(html, "name") == "Este campo es obligatorio."
    assert error_next_to(html, "email") == "Este campo es obligatorio."
    html = admin_page.submit(
        "/usuarios/nuevo", data=profile(email="no-es-correo", password="corta")
    ).get_data(as_text=True)
    assert "correo electrónico válido" in error_next_to(html, "email")
    html = admin_page.submit("/usuarios/nuevo", data=profile(password="corta")).get_data(
        as_text=True
    )
    assert error_next_to(html, "password") == "Use al menos 10 caracteres."
    html = admin_page.submit("/usuarios/nuevo", data=profile(email="TAKEN@example.com")).get_data(
        as_text=True
    )
    assert error_next_to(html, "email") == "Ya existe un usuario con ese correo."
    html = admin_page.submit("/usuarios/nuevo", data=profile(cartera_ids=["999"])).get_data(
        as_text=True
    )
    assert 'id="cartera_ids-error"' in html
    assert "must" not in html and "already exists" not in html  # no English from the domain


def test_edit_grants_and_revokes_carteras_audited_on_the_user(app, make, admin_page):
    team = make.team("Norte")
    premium, sur, centro = (make.cartera(n, team) for n in ("Premium", "Sur", "Centro"))
    nora_id = make.user("nora@example.com", "coordinator")
    form = admin_page.get(f"/usuarios/{nora_id}/editar").get_data(as_text=True)
    assert 'name="all_carteras"' in form and "data-grants-list" in form
    response = admin_page.submit(
        f"/usuarios/{nora_id}/editar",
        data=profile(name="Nora Sur", active="y", cartera_ids=[str(premium), str(sur)]),
        follow_redirects=True,
    )
    assert "Usuario Nora Sur guardado." in response.get_data(as_text=True)
    admin_page.submit(
        f"/usuarios/{nora_id}/editar",
        data=profile(active="y", cartera_ids=[str(sur), str(centro)]),
    )
    nora = user_row(app, "nora@example.com")
    assert nora["carteras"] == sorted([sur, centro]) and not nora["all_carteras"]
    access = [e for e in audit_of(app, "user", nora_id) if e[4] and "granted" in e[4]]
    assert access[-1][4] == {"granted": [centro], "revoked": [premium]}
    assert {c["name"] for c in access[-1][2]["carteras"]} == {"Premium", "Sur"}
    assert {c["name"] for c in access[-1][3]["carteras"]} == {"Sur", "Centro"}
    # "Todas las carteras": the (disabled) list is not sent, and the grants stay as they were
    admin_page.submit(f"/usuarios/{nora_id}/editar", data=profile(active="y", all_carteras="y"))
    nora = user_row(app, "nora@example.com")
    assert nora["all_carteras"] and nora["carteras"] == sorted([sur, centro])


def test_a_role_change_is_audited(app, make, admin_page):
    nora_id = make.user("nora@example.com", "coordinator")
    admin_page.submit(f"/usuarios/{nora_id}/editar", data=profile(role="admin", active="y"))
    assert user_row(app, "nora@example.com")["role"] == "admin"
    assert any(
        e[0] == "updated" and e[3] and e[3].get("role") == "admin"
        for e in audit_of(app, "user", nora_id)
    )


# --- activate and deactivate ----------------------------------------------------------------


def test_deactivate_ends_the_users_sessions_and_activate_brings_it_back(app, make, admin_page):
    nora_id = make.user("nora@example.com", "coordinator")
    nora, _ = sign_in(app, "nora@example.com")
    assert nora.get("/carteras").status_code == 200
    done = admin_page.submit(
        "/usuarios", action=f"/usuarios/{nora_id}/desactivar?q=nora", follow_redirects=True
    )
    html = done.get_data(as_text=True)
    assert "Usuario nora desactivado" in html and 'value="nora"' in html  # the filter is kept
    assert not user_row(app, "nora@example.com")["active"]
    assert nora.get("/carteras").status_code == 302  # signed out
    assert not sign_in(app, "nora@example.com")[1]
    done = admin_page.submit(
        "/usuarios", action=f"/usuarios/{nora_id}/activar", follow_redirects=True
    )
    assert "Usuario nora activado." in done.get_data(as_text=True)
    assert [e[0] for e in audit_of(app, "user", nora_id)][-2:] == ["deactivated", "activated"]
    assert sign_in(app, "nora@example.com")[1]


def test_an_admin_cannot_deactivate_or_demote_itself(app, admin_page):
    me = user_row(app, ADMIN)
    listing = admin_page.get("/usuarios").get_data(as_text=True)
    assert f"/usuarios/{me['id']}/desactivar" not in listing  # no button
    refused = admin_page.submit(
        "/usuarios", action=f"/usuarios/{me['id']}/desactivar", follow_redirects=True
    )
    assert "No puede desactivar su propia cuenta" in refused.get_data(as_text=True)
    html = admin_page.submit(
        f"/usuarios/{me['id']}/editar", data=profile(email=ADMIN, role="admin")
    ).get_data(as_text=True)
    assert "No puede desactivar su propia cuenta" in error_next_to(html, "active")
    html = admin_page.submit(
        f"/usuarios/{me['id']}/editar", data=profile(email=ADMIN, active="y")
    ).get_data(as_text=True)
    assert "No puede quitarse el rol de administrador" in error_next_to(html, "role")
    assert user_row(app, ADMIN)["active"] and user_row(app, ADMIN)["role"] == "admin"
    assert audit_of(app, "user", me["id"])[-1][0] == "created"  # nothing changed
    assert admin_page.get("/usuarios").status_code == 200  # still an admin


# --- passwords ------------------------------------------------------------------------------


def test_reset_password_shows_the_rules_and_ends_sessions(app, make, admin_page):
    nora_id = make.user("nora@example.com", "coordinator")
    nora, _ = sign_in(app, "nora@example.com")
    page = admin_page.get(f"/usuarios/{nora_id}/clave").get_data(as_text=True)
    assert "Al menos 10 caracteres" in page
    path = f"/usuarios/{nora_id}/clave"
    html = admin_page.submit(path, data={"password": "corta", "confirm": "corta"}).get_data(
        as_text=True
    )
    assert error_next_to(html, "password") == "Use al menos 10 caracteres."
    html = admin_page.submit(
        path, data={"password": NEW_PASSWORD, "confirm": "otra-distinta-12"}
    ).get_data(as_text=True)
    assert error_next_to(html, "confirm") == "Las contraseñas no coinciden."
    done = admin_page.submit(
        path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, follow_redirects=True
    )
    assert "Contraseña de nora cambiada" in done.get_data(as_text=True)
    assert nora.get("/carteras").status_code == 302  # its sessions ended
    assert not sign_in(app, "nora@example.com")[1]
    assert sign_in(app, "nora@example.com", NEW_PASSWORD)[1]
    assert audit_of(app, "user", nora_id)[-1][3] == {"password": "changed"}


def test_an_admin_changing_its_own_password_stays_signed_in(app, admin_page):
    me = user_row(app, ADMIN)
    path = f"/usuarios/{me['id']}/clave"
    admin_page.submit(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert admin_page.get("/usuarios").status_code == 200
    assert sign_in(app, ADMIN, NEW_PASSWORD)[1]


# --- tokens ---------------------------------------------------------------------------------


def test_a_token_is_shown_once_works_and_is_revoked(app, make, admin_page, client):
    nora_id = make.user("nora@example.com", "coordinator")
    path = f"/usuarios/{nora_id}/tokens"
    html = admin_page.submit(path, data={"name": ""}).get_data(as_text=True)
    assert error_next_to(html, "name") == "Este campo es obligatorio."
    issued = admin_page.submit(path, data={"name": "Integración CRM"})
    html = issued.get_data(as_text=True)
    assert issued.headers["Cache-Control"] == "no-store"
    assert "Token creado." in html and "no se volverá a mostrar" in html
    secret = re.search(r'id="new-token" type="text" readonly value="(crt_[^"]+)"', html).group(1)
    api = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/carteras", headers=api).status_code == 200
    again = admin_page.get(path).get_data(as_text=True)
    assert secret not in again and secret[:10] in again and "Integración CRM" in again
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == nora_id))
    assert audit_of(app, "token", token_id)[0][0] == "created"

    revoked = admin_page.submit(
        path, action=f"/usuarios/{nora_id}/tokens/{token_id}/revocar", follow_redirects=True
    )
    html = revoked.get_data(as_text=True)
    assert "Token «Integración CRM» revocado" in html and "Revocado el" in html
    assert client.get("/api/carteras", headers=api).status_code == 401
    assert [e[0] for e in audit_of(app, "token", token_id)] == ["created", "deleted"]
    other = make.user("otro@example.com", "coordinator")
    wrong = admin_page.submit(path, action=f"/usuarios/{other}/tokens/{token_id}/revocar")
    assert wrong.status_code == 404 and "Ese token no existe." in wrong.get_data(as_text=True)


def test_revoking_its_own_token_keeps_the_admin_signed_in(app, admin_page):
    me = user_row(app, ADMIN)
    path = f"/usuarios/{me['id']}/tokens"
    admin_page.submit(path, data={"name": "mío"})
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == me["id"]))
    admin_page.submit(path, action=f"/usuarios/{me['id']}/tokens/{token_id}/revocar")
    assert admin_page.get(path).status_code == 200


# --- CSRF and escaping ----------------------------------------------------------------------


def test_every_form_needs_its_csrf_token(app, make, admin_page):
    nora_id = make.user("nora@example.com", "coordinator")
    admin_page.submit(f"/usuarios/{nora_id}/tokens", data={"name": "uno"})
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))
        events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    post = admin_page.client.post
    assert post("/usuarios/nuevo", data=profile(email="x@example.com")).status_code == 200
    edit = post(f"/usuarios/{nora_id}/editar", data=profile(name="Cambiado", active=""))
    assert edit.status_code == 200
    assert post(f"/usuarios/{nora_id}/desactivar").status_code == 400
    password = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert post(f"/usuarios/{nora_id}/clave", data=password).status_code == 200
    html = post(f"/usuarios/{nora_id}/tokens", data={"name": "dos"}).get_data(as_text=True)
    assert 'id="new-token"' not in html
    assert post(f"/usuarios/{nora_id}/tokens/{token_id}/revocar").status_code == 400
    bad = {"csrf_token": "not-the-token"}  # a stale form: back, "El formulario caducó"
    assert post(f"/usuarios/{nora_id}/desactivar", data=bad).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events
        assert db.session.scalar(sa.select(ApiToken.revoked_at)) is None
    nora = user_row(app, "nora@example.com")
    assert nora["active"] and nora["name"] == "nora"
    assert sign_in(app, "nora@example.com")[1]  # the password did not change


def test_names_are_escaped_everywhere(app, make, admin_page):
    evil = '<script>alert("x")</script>'
    make.cartera('<img src=x onerror="alert(1)">', make.team("Norte"))
    created = admin_page.submit("/usuarios/nuevo", data=profile(name=evil), follow_redirects=True)
    nora_id = user_row(app, "nora@example.com")["id"]
    admin_page.submit(f"/usuarios/{nora_id}/tokens", data={"name": evil})
    pages = [
        created.get_data(as_text=True),  # the flash
        admin_page.get("/usuarios").get_data(as_text=True),
        admin_page.get(f"/usuarios/{nora_id}/editar").get_data(as_text=True),
        admin_page.get(f"/usuarios/{nora_id}/clave").get_data(as_text=True),
        admin_page.get(f"/usuarios/{nora_id}/tokens").get_data(as_text=True),
    ]
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in pages[1] and "&lt;img src=x" in pages[2]
