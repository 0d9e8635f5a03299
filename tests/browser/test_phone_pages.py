"""The pages this session added or grew, on a 375 px phone: nothing wider than the screen
(Regiones, Contactos with its filters, the ficha, Gestionar contactos, the import preview)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import fits, shot
from tests.browser.test_browser import sign_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_new_pages_fit_a_phone(live, make, page):
    base = live.config["LIVE_URL"]
    pacifico = make.region("Pacífico")
    norte = make.region("Norte del Pacífico con un nombre largo", parent_id=pacifico)
    team = make.team("Norte")
    luis = make.agent("Luis", [team])
    cartera = make.cartera(
        "Premium Clientes VIP de la Región Metropolitana", team, luis, "💎", region_id=norte
    )
    ana = make.contact(
        "Adriana Díaz Vázquez de la Torre",
        cartera,
        phones=["+52 55 1234 5678"],
        company="Comercializadora Internacional del Pacífico",
        notes="Prefiere que la llamen por la tarde, después de las cinco.",
    )
    make.contact("Beto", None, phones=["+52 55 2222 2222"])
    make.user("carla@example.com", "coordinator")
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, base, "carla@example.com")
    for path, name in (
        ("/regiones", "20-regiones"),
        ("/contactos?empresa=comer", "21-contactos-filtros"),
        (f"/contactos/{ana}", "22-ficha"),
        (f"/carteras/{cartera}/contactos?q=55", "23-gestionar"),
        ("/contactos/importar", "24-importar"),
        (f"/contactos/{ana}/cartera", "25-cambiar-cartera"),
    ):
        page.goto(base + path)
        shot(page, name)
        fits(page)
