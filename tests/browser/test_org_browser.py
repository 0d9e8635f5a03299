"""Equipos and Agentes in a real browser, on a 375 px phone: a new team, an agent in it, then
NUEVA CARTERA whose agent select lists only that team's agents, and the owner's wait in words."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from service.extensions import db
from service.models import Agent, Cartera
from tests.browser.conftest import fits, go_to, shot
from tests.browser.test_browser import sign_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def agent_options(page) -> list[str]:
    return page.locator("#agent_id option").all_inner_texts()


def test_coordinator_sets_up_a_team_and_its_agent_then_a_cartera(live, make, page):
    base = live.config["LIVE_URL"]
    sur = make.team("Sur")
    make.agent("Pablo del Sur", [sur])
    make.cartera("Cobranza Sur", sur, None, "🧭")
    make.user("carla@example.com", "coordinator")
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, base, "carla@example.com")

    # Equipos: a new team
    go_to(page, "Equipos")
    expect(page.get_by_role("heading", name="Equipos")).to_be_visible()
    fits(page)
    page.get_by_role("link", name="NUEVO EQUIPO").click()
    page.get_by_label("Nombre del equipo").fill("Cobranza Metropolitana del Valle de México Norte")
    page.get_by_label("Id del departamento en Rocket.Chat").fill("dep-norte")
    fits(page)
    page.get_by_role("button", name="GUARDAR").click()
    expect(page.get_by_role("status")).to_contain_text("guardado")
    expect(page.get_by_role("row", name=re.compile("Cobranza Metropolitana"))).to_contain_text(
        "dep-norte"
    )
    fits(page)
    shot(page, "12-movil-equipos")

    # Agentes: a new agent in that team
    go_to(page, "Agentes")
    page.get_by_role("link", name="NUEVO AGENTE").click()
    page.get_by_label("Nombre", exact=True).fill("Luisa Norte")
    page.get_by_label("Correo electrónico").fill("luisa@example.com")
    page.get_by_label("Usuario de Rocket.Chat").fill("luisa")
    page.get_by_role("checkbox", name="Cobranza Metropolitana del Valle de México Norte").check()
    fits(page)
    shot(page, "13-movil-agente-nuevo")
    page.get_by_role("button", name="GUARDAR").click()
    expect(page.get_by_role("status")).to_contain_text("Agente Luisa Norte guardado.")
    row = page.get_by_role("row", name=re.compile("Luisa Norte"))
    expect(row).to_contain_text("Cobranza Metropolitana")
    expect(row.get_by_role("link", name="Traspasar carteras")).to_be_visible()
    fits(page)
    shot(page, "14-movil-agentes")

    # the deletion asks first (no script: a <details>), and the team with a cartera says no
    go_to(page, "Equipos")
    sur_row = page.get_by_role("row", name=re.compile("^Sur"))
    sur_row.get_by_text("Eliminar", exact=True).click()
    sur_row.get_by_role("button", name="Sí, eliminar").click()
    expect(page.get_by_role("alert")).to_contain_text("tiene 1 cartera")
    expect(page.get_by_role("link", name=re.compile("Cobranza Sur"))).to_be_visible()
    fits(page)

    # NUEVA CARTERA: the agent select follows the chosen team
    page.goto(f"{base}/carteras/nueva")
    assert agent_options(page) == [
        "— Sin agente (cartera compartida) —",
        "Luisa Norte",
        "Pablo del Sur",
    ]
    page.get_by_label("Seleccionar equipo").select_option(
        label="Cobranza Metropolitana del Valle de México Norte"
    )
    expect(page.locator("#agent_id option")).to_have_count(2)
    assert agent_options(page) == ["— Sin agente (cartera compartida) —", "Luisa Norte"]
    page.get_by_label("Seleccione agente").select_option(label="Luisa Norte")
    page.get_by_label("Seleccionar equipo").select_option(label="Sur")
    assert agent_options(page) == ["— Sin agente (cartera compartida) —", "Pablo del Sur"]
    expect(page.get_by_label("Seleccione agente")).to_have_value("None")  # Luisa is not in Sur
    page.get_by_label("Seleccionar equipo").select_option(
        label="Cobranza Metropolitana del Valle de México Norte"
    )
    page.get_by_label("Seleccione agente").select_option(label="Luisa Norte")
    page.get_by_label("Nombre de cartera").fill("Clientes VIP - Luisa Norte")
    page.get_by_role("button", name="Usar 💎").click()

    # the owner's wait, in words, as it is typed
    wait = page.locator("#owner-wait")
    expect(wait).to_contain_text("Sin límite de espera")
    page.get_by_label("Espera del dueño (segundos)").fill("90")
    expect(wait).to_have_text(
        "1 minuto y 30 segundos: si el dueño no responde en 1 minuto y 30 segundos, la "
        "conversación pasa al equipo."
    )
    page.get_by_label("Espera del dueño (segundos)").fill("30")
    expect(wait).to_contain_text("30 segundos: si el dueño no responde en 30 segundos")
    fits(page)
    shot(page, "15-movil-cartera-agente-del-equipo")
    page.get_by_role("button", name="GUARDAR").click()
    expect(page.get_by_role("status")).to_contain_text("Cartera guardada.")
    with live.app_context():
        cartera = db.session.scalar(sa.select(Cartera).where(Cartera.name.like("Clientes VIP%")))
        luisa = db.session.scalar(sa.select(Agent).where(Agent.email == "luisa@example.com"))
        assert cartera.agent_id == luisa.id and cartera.owner_timeout_seconds == 30
        db.session.remove()
    fits(page)

    # Traspasar carteras: choose, see the preview, confirm
    go_to(page, "Agentes")
    row = page.get_by_role("row", name=re.compile("Luisa Norte"))
    row.get_by_role("link", name="Traspasar carteras").click()
    page.get_by_label("Quién recibe las carteras").select_option(
        label="— Solo el equipo (sin dueño) —"
    )
    page.get_by_label("Desactivar al agente después del traspaso").check()
    fits(page)
    page.get_by_role("button", name="VER VISTA PREVIA").click()
    expect(page.get_by_role("heading", name=re.compile("1 cartera pasaría"))).to_be_visible()
    expect(page.get_by_text("Luisa Norte quedaría inactivo")).to_be_visible()
    fits(page)
    shot(page, "16-movil-traspaso-vista-previa")
    page.get_by_role("button", name="CONFIRMAR TRASPASO").click()
    expect(page.get_by_role("status")).to_contain_text("quedó solo con su equipo")
    expect(page.get_by_role("row", name=re.compile("Luisa Norte"))).to_contain_text("Inactivo")
    fits(page)
