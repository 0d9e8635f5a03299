"""Usuarios in a real browser, on a 375 px phone: a new user with two carteras chosen through
the searchable list, "Todas las carteras" disabling it, and a token shown once."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from service.extensions import db
from service.models import User
from tests.browser.conftest import fits, shot
from tests.browser.test_browser import sign_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_admin_creates_a_user_with_two_carteras_on_a_phone(live, make, page):
    base = live.config["LIVE_URL"]
    team = make.team("Norte")
    premium = make.cartera("Premium Clientes VIP de la Región Metropolitana", team, None, "💎")
    sur = make.cartera("Sur VIP", team, None, "⭐")
    make.cartera("Centro", team, None, "🧭")
    make.user("ana@example.com", "admin")
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, base, "ana@example.com")

    page.goto(f"{base}/usuarios")
    expect(page.get_by_role("heading", name="Usuarios")).to_be_visible()
    fits(page)
    page.get_by_role("link", name="NUEVO USUARIO").click()
    fits(page)
    page.get_by_label("Nombre", exact=True).fill("Nora Norte")
    page.get_by_label("Correo electrónico").fill("nora@example.com")
    page.get_by_label("Rol").select_option(label="Coordinador")
    page.get_by_label("Contraseña").fill("una-clave-bien-larga")

    # "Todas las carteras" disables the list; unchecked, the list is back
    everything = page.get_by_label("Todas las carteras")
    checkbox = page.get_by_role("checkbox", name=re.compile("Sur VIP"))
    everything.check()
    expect(checkbox).to_be_disabled()
    everything.uncheck()
    expect(checkbox).to_be_enabled()

    search = page.get_by_label("Buscar cartera")
    search.fill("sur")
    expect(page.get_by_role("checkbox", name=re.compile("Centro"))).to_be_hidden()
    checkbox.check()
    search.fill("PREMIUM")
    expect(checkbox).to_be_hidden()
    page.get_by_role("checkbox", name=re.compile("Premium")).check()
    search.fill("")
    expect(page.locator("[data-grants-count]")).to_contain_text("2 elegidas")
    fits(page)
    shot(page, "09-movil-usuario-nuevo")
    page.get_by_role("button", name="GUARDAR").click()

    expect(page.get_by_role("status")).to_contain_text("Usuario Nora Norte creado.")
    row = page.get_by_role("row", name=re.compile("Nora Norte"))
    expect(row).to_contain_text("Sur VIP")
    fits(page)
    shot(page, "10-movil-usuarios")
    with live.app_context():
        nora = db.session.scalar(sa.select(User).where(User.email == "nora@example.com"))
        assert sorted(c.id for c in nora.carteras) == sorted([premium, sur])
        assert not nora.all_carteras
        db.session.remove()

    # a token, shown once, fits the phone too
    row.get_by_role("link", name="Tokens").click()
    page.get_by_label("Nombre del token").fill("Integración CRM")
    page.get_by_role("button", name="CREAR TOKEN").click()
    expect(page.get_by_label("Token", exact=True)).to_have_value(re.compile(r"^crt_"))
    expect(page.get_by_text("Cópielo ahora: no se volverá a mostrar.")).to_be_visible()
    fits(page)
    shot(page, "11-movil-token")
    page.get_by_text("Revocar", exact=True).click()
    page.get_by_role("button", name="Sí, revocar").click()
    expect(page.get_by_role("status")).to_contain_text("revocado")
    expect(page.get_by_label("Token", exact=True)).to_have_count(0)
    fits(page)
