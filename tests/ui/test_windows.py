"""The manual's layout without JavaScript (issue 13, item 3): the side menu marks the current
section; NUEVA CARTERA, Editar and AUDITORÍA are windows sent open over the Carteras list, each
at its own address, and closing one goes back to the list as it was."""

from __future__ import annotations

import re


def window(html: str) -> str:
    """The open window of the page (a <dialog open>), or "" when none."""
    found = re.search(r"<dialog [^>]*\bopen\b[^>]*>.*?</dialog>", html, re.S)
    return found.group(0) if found else ""


def current(html: str) -> list[str]:
    return re.findall(r'<a href="[^"]*" aria-current="page">([^<]*)</a>', html)


def test_nueva_cartera_opens_over_the_list_and_keeps_its_errors(login, make):
    team = make.team("Norte")
    make.cartera("Premium", team)
    browser = login()
    html = browser.get("/carteras/nueva?q=prem").get_data(as_text=True)
    opened = window(html)
    assert 'aria-labelledby="window-title"' in opened and "Nueva cartera" in opened
    assert 'data-close="/carteras?q=prem"' in opened  # closing: the list as it was
    assert "GUARDAR" in opened and 'href="/carteras?q=prem"' in opened
    assert "💎 Premium" in html.replace(opened, "")  # the list is there, under it
    assert current(html) == ["Carteras"]
    refused = browser.submit(
        "/carteras/nueva?q=prem", data={"team_id": "", "agent_id": "", "name": "", "icon": ""}
    )
    assert refused.status_code == 200
    opened = window(refused.get_data(as_text=True))
    assert 'id="name-error"' in opened and "Este campo es obligatorio." in opened
    saved = browser.submit(
        "/carteras/nueva?q=prem",
        data={"team_id": str(team), "agent_id": "", "name": "Premium Oro", "icon": "👑"},
    )
    assert saved.status_code == 302 and saved.headers["Location"] == "/carteras?q=prem"
    listing = browser.get("/carteras?q=prem").get_data(as_text=True)
    assert window(listing) == "" and "👑 Premium Oro" in listing


def test_editar_is_the_same_window_filled_in(login, make):
    team = make.team("Norte")
    premium = make.cartera("Premium", team)
    browser = login()
    listing = browser.get("/carteras?region_id=&q=prem").get_data(as_text=True)
    assert f'href="/carteras/{premium}/editar?q=prem"' in listing
    html = browser.get(f"/carteras/{premium}/editar?q=prem").get_data(as_text=True)
    opened = window(html)
    assert "Editar cartera" in opened and 'value="Premium"' in opened
    saved = browser.submit(
        f"/carteras/{premium}/editar?q=prem",
        data={"team_id": str(team), "agent_id": "", "name": "Premium Plus", "icon": "💎"},
    )
    assert saved.headers["Location"] == "/carteras?q=prem"


def test_auditoria_opens_over_the_list_and_filters_there(login, make):
    team = make.team("Norte")
    make.cartera("Premium", team)
    browser = login()
    listing = browser.get("/carteras").get_data(as_text=True)
    assert 'href="/carteras/auditoria"' in listing
    html = browser.get("/carteras/auditoria?q=zzz&event=created").get_data(as_text=True)
    opened = window(html)
    assert "Auditoría" in opened and 'action="/carteras/auditoria"' in opened
    assert "No hay eventos con estos filtros." in opened
    assert "💎 Premium" in html.replace(opened, "")  # the audit's q does not filter the list
    found = window(browser.get("/carteras/auditoria?event=created").get_data(as_text=True))
    assert "creó la cartera 💎 Premium" in found
    assert 'href="/auditoria/exportar?' in found and 'data-close="/carteras"' in found
    # the page of its own stays, marked as such in the menu
    page = browser.get("/auditoria").get_data(as_text=True)
    assert window(page) == "" and current(page) == ["Auditoría"]


def test_the_side_menu_groups_and_marks_the_section(login, make):
    ids = make.org_chart()
    coordinator = login()
    html = coordinator.get("/contactos").get_data(as_text=True)
    menu = html[html.index('<nav id="menu"') : html.index("</nav>", html.index('<nav id="menu"'))]
    assert menu.index("CRM") < menu.index("Carteras") < menu.index("Configuración")
    assert menu.index("Configuración") < menu.index("Equipos") < menu.index("Regiones")
    assert current(html) == ["Contactos"]
    assert current(coordinator.get("/equipos").get_data(as_text=True)) == ["Equipos"]
    agent = login("agent", agent_id=ids["luis"], email="luis@example.com")
    html = agent.get("/agente").get_data(as_text=True)
    assert current(html) == ["Conversaciones"]
    assert ">Carteras</a>" not in html and "Configuración" not in html
