"""A coordinator's journeys on the manual's layout, on a 1366 px screen and a 375 px phone:
the side menu, NUEVA CARTERA and Editar as windows over the list (each at its own address:
reload and the back button keep them), AUDITORÍA filtered in its window, Contactos and
Gestionar contactos; with 120-character names, nothing wider than the screen and every row's
actions on it. Screenshots in test-artifacts/screenshots/journey-<width>-*.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import actions_on_screen, fits, go_to, shot
from tests.browser.test_browser import sign_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def long_name(start: str) -> str:
    """*start* padded to 120 characters, one of its words 40 letters long (no place to
    break it but anywhere)."""
    return (start + " " + "Supercalifragilisticoexpialidoso" * 2 + " del Valle de México Norte")[
        :120
    ].ljust(120, "x")


def modal(window) -> bool:
    return bool(window.evaluate("d => d.matches(':modal')"))


@pytest.mark.parametrize("width", [1366, 375])
def test_coordinator_journeys_fit_the_screen(live, make, page, width):
    base = live.config["LIVE_URL"]
    team_name, agent_name = long_name("Equipo Cobranza"), long_name("Agente Luisa")
    team = make.team(team_name)
    sur = make.team("Sur")
    luisa = make.agent(agent_name, [team])
    make.agent("Pablo del Sur", [sur])
    cartera_name = long_name("Cartera Premium")
    premium = make.cartera(cartera_name, team, luisa, "💎", region="Norte")
    make.contact(long_name("Adriana Díaz"), premium, phones=["+52 55 1234 5678"])
    make.contact("Beto Ruiz", None, phones=["+52 55 2222 2222"])
    make.user("carla@example.com", "coordinator")
    page.set_viewport_size({"width": width, "height": 900 if width > 1000 else 800})
    sign_in(page, base, "carla@example.com")
    name = f"journey-{width}"

    # The list, reached from the side menu: CRM → Carteras, the current page marked
    go_to(page, "Carteras")
    menu = page.get_by_role("navigation", name="Menú principal")
    toggle = page.locator("[data-menu-button]")
    if width < 900:  # folded: the list has the whole width; "Menú" unfolds it, Esc folds it
        expect(menu).to_be_hidden()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(menu).to_be_visible()
    else:
        expect(toggle).to_be_hidden()
    expect(menu.get_by_role("link", name="Carteras", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    if width < 900:
        shot(page, f"{name}-00-menu")
        page.keyboard.press("Escape")
        expect(menu).to_be_hidden()
        expect(toggle).to_be_focused()
    row = page.get_by_role("row", name=re.compile("Cartera Premium"))
    expect(row.get_by_role("link", name="Editar")).to_be_visible()
    assert actions_on_screen(page) >= 3
    fits(page)
    shot(page, f"{name}-01-carteras")

    # NUEVA CARTERA: a window at /carteras/nueva; GUARDAR empty says what is missing in it
    page.get_by_role("link", name="NUEVA CARTERA").click()
    expect(page).to_have_url(re.compile(r"/carteras/nueva$"))
    window = page.get_by_role("dialog", name="Nueva cartera")
    expect(window).to_be_visible()
    assert modal(window)
    window.get_by_role("button", name="GUARDAR").click()
    window = page.get_by_role("dialog", name="Nueva cartera")
    expect(window.locator("#name-error")).to_be_visible()
    expect(page.get_by_role("heading", name="Carteras", exact=True)).to_be_attached()
    fits(page)
    shot(page, f"{name}-02-nueva-errores")
    # the agent select lists the chosen team's agents only
    window.get_by_label("Seleccionar equipo").select_option(label=team_name)
    expect(window.locator("#agent_id option")).to_have_count(2)
    window.get_by_label("Seleccione agente").select_option(label=agent_name)
    window.get_by_label("Nombre de cartera").fill("Clientes VIP - Juan Pérez")
    window.get_by_role("button", name="Usar ⭐").click()
    fits(page)
    shot(page, f"{name}-03-nueva")
    window.get_by_role("button", name="GUARDAR").click()
    expect(page).to_have_url(re.compile(r"/carteras$"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("Cartera guardada.")
    row = page.get_by_role("row", name=re.compile("Clientes VIP - Juan Pérez"))
    expect(row).to_contain_text("Agente Luisa")

    # Editar: the same window, filled in; reload and the back button keep it
    row.get_by_role("link", name="Editar").click()
    expect(page).to_have_url(re.compile(r"/carteras/\d+/editar$"))
    window = page.get_by_role("dialog", name="Editar cartera")
    expect(window.get_by_label("Nombre de cartera")).to_have_value("Clientes VIP - Juan Pérez")
    page.reload()
    expect(window.get_by_label("Nombre de cartera")).to_have_value("Clientes VIP - Juan Pérez")
    assert modal(window)
    page.keyboard.press("Escape")  # closes it, back at the list's address
    expect(page).to_have_url(re.compile(r"/carteras$"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.go_back()
    expect(window).to_be_visible()
    window.get_by_label("Nombre de cartera").fill("Recuperación Mes de Julio")
    fits(page)
    shot(page, f"{name}-04-editar")
    window.get_by_role("button", name="GUARDAR").click()
    expect(page).to_have_url(re.compile(r"/carteras$"))
    expect(page.get_by_role("row", name=re.compile("Recuperación Mes de Julio"))).to_be_visible()

    # AUDITORÍA: a window over the list, filtered there
    page.get_by_role("link", name="AUDITORÍA", exact=True).click()
    window = page.get_by_role("dialog", name="Auditoría")
    expect(window).to_be_visible()
    window.get_by_label("Evento").select_option(label="Actualizado")
    window.get_by_label("Fecha").select_option(label="Hoy")
    window.get_by_role("button", name="Filtrar").click()
    expect(page).to_have_url(re.compile(r"/carteras/auditoria\?.*event=updated"))
    events = window.locator("tbody tr")
    expect(events).to_have_count(1)
    expect(events).to_contain_text("Recuperación Mes de Julio")
    fits(page)
    shot(page, f"{name}-05-auditoria")
    window.get_by_role("link", name="Cerrar").click()
    expect(page).to_have_url(re.compile(r"/carteras$"))

    # Gestionar contactos of the long-named cartera
    page.get_by_role("row", name=re.compile("Cartera Premium")).get_by_role(
        "link", name="Gestionar contactos"
    ).click()
    expect(page.get_by_role("heading", name=re.compile("En cartera"))).to_contain_text("(1)")
    assert actions_on_screen(page, ".picklist button") == 1  # 🗑 Quitar, beside the long name
    fits(page)
    shot(page, f"{name}-06-gestionar")

    # Contactos, from the menu: the long name wraps, the row is a card on a phone
    go_to(page, "Contactos")
    expect(page.locator('#menu a[aria-current="page"]')).to_have_text("Contactos")
    expect(page.get_by_role("link", name=re.compile("Adriana Díaz"))).to_be_visible()
    fits(page)
    shot(page, f"{name}-07-contactos")
