"""The pages in a real browser: a coordinator's day with carteras, and an agent's live badge."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import fits, shot
from tests.webhooks.conftest import sign_whatsapp, whatsapp_text

PASSWORD = "una-clave-segura"
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def sign_in(page, base, email):
    page.goto(f"{base}/ingresar")
    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="INGRESAR").click()


def test_coordinator_manages_carteras_and_finds_it_in_the_audit(live, make, page):
    base = live.config["LIVE_URL"]
    team = make.team("Norte")
    make.agent("Luis", [team])
    make.region("CDMX")
    make.cartera("Sur", team, None, "🧭")
    ana = make.contact("Ana López", None, phones=["+52 55 1111 1111"])
    make.contact("Beto Ruiz", make.cartera("Otra", team, None, "⭐"), phones=["+52 55 2222 2222"])
    make.user("carla@example.com", "coordinator")
    assert ana

    sign_in(page, base, "carla@example.com")
    expect(page.get_by_role("heading", name="Carteras")).to_be_visible()
    shot(page, "01-carteras")

    # NUEVA CARTERA (a window over the list): empty form first, to see the errors next to
    # the fields
    page.get_by_role("link", name="NUEVA CARTERA").click()
    window = page.get_by_role("dialog", name="Nueva cartera")
    page.get_by_role("button", name="GUARDAR").click()
    expect(page.locator("#name-error")).to_be_visible()
    expect(page.locator("#icon-error")).to_be_visible()
    shot(page, "02-cartera-errores")
    page.get_by_label("Seleccionar equipo").select_option(label="Norte")
    page.get_by_label("Seleccione agente").select_option(label="Luis")
    page.get_by_label("Nombre de cartera").fill("Premium")
    page.get_by_role("button", name="Usar 💎").click()
    expect(page.get_by_label("Ícono", exact=True)).to_have_value("💎")
    page.get_by_label("Color").fill("#1E88E5")
    window.get_by_label("Región").select_option(label="CDMX")
    shot(page, "03-cartera-form")
    page.get_by_role("button", name="GUARDAR").click()
    row = page.get_by_role("row", name=re.compile("Premium"))
    expect(row).to_contain_text("Luis")
    expect(row).to_contain_text("Activa")

    # Gestionar contactos: add Ana, then move Beto from another cartera
    row.get_by_role("link", name="Gestionar contactos").click()
    page.get_by_label("Nombre, teléfono o correo").fill("Ana")
    page.get_by_role("search").first.get_by_role("button", name="Buscar").click()
    page.get_by_role("button", name="Agregar", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("1 contacto agregado")
    # "Deshacer" is offered, then the type-ahead: the results change while typing
    expect(page.get_by_role("button", name="Deshacer")).to_be_visible()
    page.get_by_label("Nombre, teléfono o correo").fill("")
    page.get_by_label("Nombre, teléfono o correo").press_sequentially("55 2222", delay=30)
    expect(page.locator(".results").first).to_contain_text("⭐ Otra")  # says where Beto is
    page.get_by_role("button", name="Mover aquí").click()
    # moving out of another cartera asks first, naming both
    expect(page.get_by_role("alertdialog")).to_contain_text("¿Moverlo de «Otra» a «Premium»?")
    page.get_by_role("button", name="Sí, mover aquí").click()
    expect(page.get_by_role("heading", name=re.compile("En cartera"))).to_contain_text("(2)")
    shot(page, "04-gestionar-contactos")

    # deactivate it
    page.get_by_role("link", name="Carteras").first.click()
    page.get_by_role("row", name=re.compile("Premium")).get_by_role(
        "button", name="Desactivar"
    ).click()
    expect(page.get_by_role("row", name=re.compile("Premium"))).to_contain_text("Inactiva")

    # AUDITORÍA (a window over the list) with each of its three filters
    page.get_by_role("link", name="AUDITORÍA", exact=True).click()
    audit = page.get_by_role("dialog", name="Auditoría")
    page.get_by_label("Evento").select_option(label="Desactivado")
    page.get_by_role("button", name="Filtrar").click()
    expect(audit.locator("tbody tr")).to_have_count(1)
    expect(audit.locator("tbody")).to_contain_text("Premium")
    page.get_by_label("Evento").select_option(label="Contacto movido")
    page.get_by_label("Fecha").select_option(label="Hoy")
    page.get_by_role("button", name="Filtrar").click()
    expect(audit.locator("tbody")).to_contain_text("Beto Ruiz")
    page.get_by_label("Evento").select_option(label="Todos")
    page.get_by_label("Fecha").select_option(label="Esta semana")
    page.get_by_label("Buscar (usuario o recurso)").fill("ana lopez")
    page.get_by_role("button", name="Filtrar").click()
    expect(audit.locator("tbody")).to_contain_text("Contacto agregado")
    shot(page, "05-auditoria")


def test_pages_fit_a_375px_phone(live, make, page):
    base = live.config["LIVE_URL"]
    team = make.team("Norte")
    make.cartera("Premium", team, None, "💎")
    make.user("carla@example.com", "coordinator")
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, base, "carla@example.com")
    for path, name in (
        ("/carteras", "06-movil-carteras"),
        ("/contactos", "07-movil-contactos"),
        ("/auditoria", "08-movil-auditoria"),
    ):
        page.goto(base + path)
        fits(page)
        shot(page, name)


def test_agent_sees_a_badge_arrive_live(live, make, page):
    base = live.config["LIVE_URL"]
    team = make.team("Norte", rocketchat_department_id="dep-norte")
    luis = make.agent("Luis", [team], rocketchat_user_id="u-luis")
    premium = make.cartera("Premium", team, luis, "💎", color="#1E88E5")
    make.contact("Lucía", premium, phones=["+52 55 1234 5678"])
    make.user("luis@example.com", "agent", luis)
    sign_in(page, base, "luis@example.com")
    expect(page.get_by_role("heading", name="Conversaciones de mis carteras")).to_be_visible()
    expect(page.locator("#live-state")).to_have_text("En vivo")
    shot(page, "09-agente-antes")

    body = whatsapp_text("wamid.browser", sender="5215512345678")
    response = live.test_client().post(
        "/webhooks/whatsapp",
        data=body,
        content_type="application/json",
        headers=sign_whatsapp(body),
    )
    assert response.status_code == 200
    arrived = page.locator(".conv.new")
    expect(arrived).to_contain_text("💎 Premium")
    expect(arrived).to_contain_text("Lucía")
    expect(arrived).to_contain_text("Dueño de la cartera")
    expect(arrived.locator(".chan")).to_have_text("WhatsApp")  # the label, not the code
    shot(page, "10-agente-badge")
