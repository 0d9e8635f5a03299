"""The Spanish pages through the Flask test client: sign-in, forms, CSRF, filters, roles."""

import io
import re

import sqlalchemy as sa

from service.extensions import db
from service.models import Cartera
from tests.ui.conftest import PASSWORD, csrf


def test_pages_need_a_sign_in(client):
    response = client.get("/carteras")
    assert response.status_code == 302 and "/ingresar" in response.headers["Location"]


def test_wrong_password_says_so_next_to_the_field(client, make):
    make.user("ana@example.com", "coordinator")
    page = client.get("/ingresar").get_data(as_text=True)
    response = client.post(
        "/ingresar",
        data={
            "csrf_token": csrf(page),
            "email": "ana@example.com",
            "password": "otra-clave-cualquiera",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Correo o contraseña incorrectos." in html
    assert 'aria-invalid="true"' in html


def test_post_without_csrf_is_refused(client, make):
    make.user("ana@example.com", "coordinator")
    response = client.post("/ingresar", data={"email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 200  # the form re-renders: not signed in
    assert client.get("/carteras").status_code == 302


def test_session_cookie_is_httponly_and_samesite(app, make):
    make.user("ana@example.com", "coordinator")
    client = app.test_client()
    page = client.get("/ingresar").get_data(as_text=True)
    response = client.post(
        "/ingresar",
        data={"csrf_token": csrf(page), "email": "ana@example.com", "password": PASSWORD},
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_coordinator_creates_edits_and_deactivates_a_cartera(login, make, app):
    team = make.team("Norte")
    luis = make.agent("Luis", [team])
    cdmx = make.region("CDMX")
    browser = login()
    listing = browser.get("/carteras").get_data(as_text=True)
    assert "NUEVA CARTERA" in listing and "AUDITORÍA" in listing
    saved = browser.submit(
        "/carteras/nueva",
        data={
            "team_id": str(team),
            "agent_id": str(luis),
            "name": "Premium",
            "icon": "💎",
            "color": "#1E88E5",
            "region_id": str(cdmx),
            "owner_timeout_seconds": "0",
        },
    )
    assert saved.status_code == 302
    listing = browser.get("/carteras").get_data(as_text=True)
    assert "💎 Premium" in listing and "Luis" in listing and "CDMX" in listing
    with app.app_context():
        cartera_id = db.session.scalar(sa.select(Cartera.id))
    edited = browser.submit(
        f"/carteras/{cartera_id}/editar",
        data={
            "team_id": str(team),
            "agent_id": "",
            "name": "Premium Oro",
            "icon": "👑",
            "color": "",
            "region_id": "",
            "owner_timeout_seconds": "30",
        },
    )
    assert edited.status_code == 302
    browser.submit("/carteras", action=f"/carteras/{cartera_id}/desactivar")
    listing = browser.get("/carteras?q=oro").get_data(as_text=True)
    assert "👑 Premium Oro" in listing and "Inactiva" in listing and "Compartida" in listing


def test_cartera_form_shows_errors_next_to_fields(login, make):
    team = make.team("Norte")
    make.agent("Otro")  # not in the team
    make.cartera("Premium", team)
    browser = login()
    html = browser.submit(
        "/carteras/nueva",
        data={"team_id": "", "agent_id": "", "name": "premium", "icon": "", "color": "azul"},
    ).get_data(as_text=True)
    assert 'id="icon-error"' in html and 'id="color-error"' in html
    html = browser.submit(
        "/carteras/nueva", data={"team_id": "", "agent_id": "", "name": "Nueva", "icon": "x"}
    ).get_data(as_text=True)
    assert 'id="team_id-error"' in html  # needs a team or an agent
    html = browser.submit(
        "/carteras/nueva",
        data={"team_id": str(team), "agent_id": "", "name": "PREMIUM", "icon": "x"},
    ).get_data(as_text=True)
    assert 'id="name-error"' in html and "Ya existe una cartera llamada" in html


def test_manage_contacts_add_move_and_remove(login, make):
    team = make.team("Norte")
    premium, norte = make.cartera("Premium", team), make.cartera("Norte", team)
    ana = make.contact("Ana", premium, phones=["55 1111 1111"])
    beto = make.contact("Beto", None)
    browser = login()
    page = browser.get(f"/carteras/{norte}/contactos?q=55 1111").get_data(as_text=True)
    assert "Busque y seleccione para agregar" in page and "En cartera" in page
    assert "Mover aquí" in page and "💎 Premium" in page  # says where Ana is
    asked = browser.submit(f"/carteras/{norte}/contactos", data={"contact_id": str(ana)})
    assert asked.status_code == 302 and f"confirmar={ana}" in asked.headers["Location"]
    question = browser.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Ana está en «Premium»" in question and "¿Moverlo de «Premium» a «Norte»?" in question
    moved = browser.client.post(
        f"/carteras/{norte}/contactos",
        data={"csrf_token": csrf(question), "contact_id": str(ana), "confirm": "1"},
    )
    assert moved.status_code == 302
    added = browser.submit(f"/carteras/{norte}/contactos", data={"contact_id": str(beto)})
    assert added.status_code == 302
    page = browser.get(f"/carteras/{norte}/contactos").get_data(as_text=True)
    assert "Ana" in page and "Beto" in page and "(2)" in page
    browser.submit(
        f"/carteras/{norte}/contactos", action=f"/carteras/{norte}/contactos/{beto}/quitar"
    )
    assert "(1)" in browser.get(f"/carteras/{norte}/contactos").get_data(as_text=True)
    audit = browser.get("/auditoria?event=contact_moved").get_data(as_text=True)
    assert "Contacto movido" in audit and "Ana" in audit


def test_action_buttons_without_csrf_are_refused(login, make):
    cartera = make.cartera("Premium", make.team())
    browser = login()
    response = browser.client.post(f"/carteras/{cartera}/desactivar")
    assert response.status_code == 400
    assert "token de seguridad" in response.get_data(as_text=True)


def test_audit_filters(login, make):
    premium = make.cartera("Premium", make.team("Norte"))
    browser = login()
    browser.submit("/carteras", action=f"/carteras/{premium}/desactivar")
    html = browser.get("/auditoria?period=today&event=deactivated&q=premium").get_data(as_text=True)
    assert "Desactivado" in html and "Premium" in html
    assert "Hoy" in html and "Esta semana" in html and "Este mes" in html and "Este año" in html
    empty = browser.get("/auditoria?event=imported").get_data(as_text=True)
    assert "No hay eventos con estos filtros." in empty


def test_contacts_search_create_import_export(login, make):
    premium = make.cartera("Premium", make.team())
    make.contact("Ana", premium, phones=["55 1111 1111"])
    browser = login()
    html = browser.get("/contactos?q=1111").get_data(as_text=True)
    assert "Ana" in html and "💎 Premium" in html
    bad = browser.submit("/contactos/nuevo", data={"name": "Zoe", "phones": "55 1234"})
    assert 'id="phones-error"' in bad.get_data(as_text=True)
    taken = browser.submit("/contactos/nuevo", data={"name": "Zoe", "phones": "5511111111"})
    assert "Ya pertenece a otro contacto" in taken.get_data(as_text=True)
    created = browser.submit("/contactos/nuevo", data={"name": "Zoe", "phones": "55 2222 2222"})
    assert created.status_code == 302
    csv_text = "name,phones,cartera\nYara,55 3333 3333,Premium\nMala,xx,\n"
    preview = browser.submit(
        "/contactos/importar",
        data={"file": (io.BytesIO(csv_text.encode()), "c.csv"), "move": "y"},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "nuevos: 1" in preview and "rechazados: 1" in preview and "teléfonos" in preview
    assert "Yara" not in browser.get("/contactos").get_data(as_text=True)  # nothing saved yet
    token = re.search(r'name="preview" type="hidden" value="([^"]+)"', preview)
    assert token, preview
    saved = browser.client.post(
        "/contactos/importar/guardar",
        data={"csrf_token": csrf(preview), "preview": token.group(1), "move": "1"},
    ).get_data(as_text=True)
    assert "Importación guardada" in saved and "nuevos: 1" in saved
    exported = browser.get("/contactos/exportar").get_data(as_text=True)
    assert "Yara" in exported and "Zoe" in exported


def test_agents_see_their_portfolio_only(login, make):
    ids = make.org_chart()
    browser = login("agent", ids["luis"], "luis@example.com")
    assert browser.get("/carteras").status_code == 403
    assert browser.get("/auditoria").status_code == 403
    html = browser.get("/contactos").get_data(as_text=True)
    assert "Ana" in html and "Beto" in html and "Caro" not in html
    assert browser.get(f"/contactos/{ids['caro']}").status_code == 404
    assert browser.get("/").headers["Location"].endswith("/agente")


def test_english_is_available(login):
    browser = login()
    assert "Portfolios" in browser.get("/carteras?lang=en").get_data(as_text=True)
    assert "NEW PORTFOLIO" in browser.get("/carteras").get_data(as_text=True)  # kept
    assert "NUEVA CARTERA" in browser.get("/carteras?lang=es").get_data(as_text=True)


def test_users_cli_creates_a_sign_in(app):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--email",
            "Admin@Example.com",
            "--role",
            "admin",
            "--password",
            "una-clave-segura",
        ]
    )
    assert result.exit_code == 0, result.output
    short = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--email",
            "b@example.com",
            "--role",
            "admin",
            "--password",
            "corta",
        ]
    )
    assert short.exit_code != 0 and "at least" in short.output


def test_the_agent_page_shows_messages_held_back_in_a_conversation(app, client, login, make):
    from service.extensions import db
    from service.models import InboxMessage
    from tests.webhooks.conftest import Posting, whatsapp_text

    ids = make.org_chart()
    make.contact("Lucía", ids["premium"], phones=["+52 55 1234 5678"])
    posting = Posting(client, app)
    posting.whatsapp(whatsapp_text("wamid.1", sender="5215512345678", timestamp=1763809200))
    (first,) = posting.rows()
    assert first.status == "processed"
    with app.app_context():  # the next two: one failed, one held behind it
        for n, status in ((2, "failed"), (3, "waiting")):
            row = db.session.get(InboxMessage, first.id)
            assert row is not None
            db.session.add(
                InboxMessage(
                    provider=row.provider,
                    channel=row.channel,
                    external_id=f"wamid.{n}",
                    kind="text",
                    thread_key=row.thread_key,
                    payload={},
                    sent_at=row.sent_at,
                    status=status,
                )
            )
        db.session.commit()
    browser = login("agent", ids["luis"], "luis@example.com")
    html = browser.get("/agente").get_data(as_text=True)
    assert "2 mensajes del cliente aún no llegan (1 falló)" in html
    english = browser.get("/agente?lang=en").get_data(as_text=True)
    assert "2 customer messages not delivered yet (1 failed)" in english
