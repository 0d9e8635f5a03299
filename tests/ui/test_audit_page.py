"""AUDITORÍA as people read it (issue 13, item 5): sentences with names, changes as
"label: before → after" (never raw JSON), local time with the zone, a date range beside the
presets, the resource type, paging with the total, links, and the CSV export."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.domain import audit
from service.domain.actor import Actor
from service.extensions import db
from tests.webhooks.conftest import FixedClock

MX = ZoneInfo("America/Mexico_City")  # the tests' CARTERAS_TIMEZONE
CLOCK = Actor(user_id=None, name="reloj", role="admin")


def table(page: str) -> str:
    return page[page.index("<tbody>") : page.index("</tbody>")]


@pytest.fixture
def noon(app, monkeypatch) -> datetime:
    """The service's clock stopped at today's local noon: "today", "hace 5 min" and the
    events placed before it read the same whatever the hour the tests run at."""
    at = datetime.combine(datetime.now(MX).date(), time(12), tzinfo=MX).astimezone(UTC)
    monkeypatch.setattr(app.extensions["ports"], "clock", FixedClock(at))
    return at


def record(app, name: str, at: datetime, **kw) -> None:
    with app.app_context():
        audit.record(db.session(), CLOCK, "created", "team", None, name, now=at, **kw)
        db.session.commit()


def test_each_event_is_a_sentence_with_its_changes_and_no_raw_json(login, make):
    team = make.team("Norte")
    premium = make.cartera("Premium", team)
    browser = login()
    browser.submit(
        f"/carteras/{premium}/editar",
        data={
            "name": "Premium",
            "icon": "👑",
            "team_id": str(team),
            "owner_timeout_seconds": "120",
        },
    )
    browser.submit("/carteras", action=f"/carteras/{premium}/desactivar")
    page = browser.get("/auditoria").get_data(as_text=True)
    rows = table(page)
    assert "coordinator desactivó la cartera 👑 Premium" in rows
    assert "coordinator cambió la cartera 👑 Premium: ícono, espera del dueño" in rows
    assert "Activa:" in rows and "sí</del> → <ins>no" in rows
    assert "2 min; si el dueño no responde, pasa al equipo" in rows
    assert "factory creó la cartera 💎 Premium (equipo Norte)" in rows  # the icon it had
    main = page[page.index("<main") :]
    assert "{" not in main and "team_id" not in main and "owner_timeout" not in main
    # the sentences go through the page's gettext: another language renders too
    english = browser.get("/auditoria?lang=en")
    assert english.status_code == 200
    rows = table(english.get_data(as_text=True))
    assert "coordinator deactivated the portfolio 👑 Premium" in rows  # babel.cfg: audit_text
    assert "Active:" in rows and "yes</del> → <ins>no" in rows
    assert "factory created the portfolio 💎 Premium (team Norte)" in rows
    assert "desactivó" not in rows and "creó" not in rows and "hace " not in rows


def test_names_are_escaped(login, make):
    premium = make.cartera("<b>Premium</b>", make.team("Norte"))
    make.contact('<script>alert("x")</script>', premium)
    page = login().get("/auditoria").get_data(as_text=True)
    assert "<script>alert" not in page and "<b>Premium" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;b&gt;Premium&lt;/b&gt;" in page


def test_times_are_local_with_the_zone_and_agree_with_today(app, login, noon):
    now = noon
    midnight = datetime.combine(now.astimezone(MX).date(), time.min, tzinfo=MX)
    late_yesterday = (midnight - timedelta(minutes=30)).astimezone(UTC)
    record(app, "anoche", late_yesterday)
    record(app, "recién", now - timedelta(minutes=5))
    browser = login()
    page = browser.get("/auditoria?q=reloj").get_data(as_text=True)
    assert "Horas en America/Mexico_City." in page
    yesterday = (midnight - timedelta(days=1)).strftime("%Y-%m-%d")
    night = re.search(r"<time[^>]*>([^<]+)</time>(?:(?!<time).)*anoche", page, re.S)
    assert night and night.group(1) == f"{yesterday} 23:30"
    assert "hace 5 min" in page
    today = table(browser.get("/auditoria?q=reloj&period=today").get_data(as_text=True))
    assert "recién" in today and "anoche" not in today
    # the date range reads the same local days
    day = midnight.strftime("%Y-%m-%d")
    ranged = table(browser.get(f"/auditoria?q=reloj&from={day}&to={day}").get_data(as_text=True))
    assert "recién" in ranged and "anoche" not in ranged


def test_a_custom_date_range_and_the_resource_type(app, login, make):
    record(app, "enero", datetime(2026, 1, 15, 18, tzinfo=UTC))
    record(app, "marzo", datetime(2026, 3, 15, 18, tzinfo=UTC))
    make.cartera("Premium", make.team("Norte"))
    browser = login()
    page = browser.get("/auditoria?from=2026-01-01&to=2026-01-31").get_data(as_text=True)
    assert "enero" in table(page) and "marzo" not in table(page)
    assert 'name="from" type="date" value="2026-01-01"' in page
    types = table(browser.get("/auditoria?resource_type=cartera").get_data(as_text=True))
    assert "Premium" in types and "creó el equipo" not in types
    backwards = browser.get("/auditoria?from=2026-02-01&to=2026-01-01")
    assert backwards.status_code == 200
    text = backwards.get_data(as_text=True)
    assert "«Hasta» no puede ser anterior a «Desde»." in text and 'id="to-error"' in text
    assert "No hay eventos con estos filtros." in text
    bad = browser.get("/auditoria?from=ayer").get_data(as_text=True)
    assert "Escriba una fecha como 2026-01-31." in bad


def test_paging_says_the_total_and_keeps_the_filters(app, login, noon):
    now = noon
    for n in range(30):
        record(app, f"T{n:02d}", now - timedelta(minutes=n))
    browser = login()
    first = browser.get("/auditoria?q=reloj&period=today").get_data(as_text=True)
    assert "Página 1 de 2 · 30 en total" in first
    assert table(first).count("<tr>") == 25
    link = re.search(r'href="(/auditoria\?[^"]*page=2[^"]*)"', first)
    assert link, "no link to page 2"
    target = html.unescape(link.group(1))
    assert "q=reloj" in target and "period=today" in target
    second = browser.get(target).get_data(as_text=True)
    assert "Página 2 de 2 · 30 en total" in second
    assert table(second).count("<tr>") == 5 and "T29" in second


def test_a_capped_count_says_more_than_and_still_pages_on(app, login, noon, monkeypatch):
    monkeypatch.setattr(audit, "COUNT_LIMIT", 20)  # 10,000 in production
    now = noon
    for n in range(60):
        record(app, f"T{n:02d}", now - timedelta(minutes=n))
    browser = login()
    first = browser.get("/auditoria?q=reloj&period=today").get_data(as_text=True)
    assert "Página 1 de más de 1 · más de 25 en total" in first
    assert "Siguiente" in first
    third = browser.get("/auditoria?q=reloj&period=today&page=3").get_data(as_text=True)
    assert table(third).count("<tr>") == 10 and "T59" in third
    assert "más de" not in third and "Página 3 de 3 · 60 en total" in third


def test_resource_and_actor_are_links_where_a_page_exists(login, make):
    premium = make.cartera("Premium", make.team("Norte"))
    ana = make.contact("Ana", premium)
    admin = login("admin")
    page = admin.get("/auditoria?event=contact_added").get_data(as_text=True)
    assert f'href="/carteras/{premium}/editar"' in page
    assert f'href="/contactos/{ana}"' in page
    admin.submit("/carteras", action=f"/carteras/{premium}/desactivar")
    mine = admin.get("/auditoria?event=deactivated").get_data(as_text=True)
    assert re.search(r'href="/usuarios/\d+/editar">admin</a>', mine)
    coordinator = login("coordinator")
    theirs = coordinator.get("/auditoria?event=deactivated").get_data(as_text=True)
    assert "/usuarios/" not in table(theirs)  # Usuarios is the admins' page


def test_export_gives_the_filtered_events_as_a_spreadsheet_csv(login, make):
    premium = make.cartera("Premium", make.team("Norte"))
    make.cartera("Oro", make.team("Sur"), None, "👑")
    browser = login()
    browser.submit("/carteras", action=f"/carteras/{premium}/desactivar")
    page = browser.get("/auditoria?event=deactivated").get_data(as_text=True)
    assert 'href="/auditoria/exportar?' in page and "event=deactivated" in page
    response = browser.get("/auditoria/exportar?event=deactivated")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == [
        "Fecha (America/Mexico_City)",
        "Usuario",
        "Evento",
        "Recurso",
        "Resumen",
        "Cambios",
    ]
    assert [r[1:] for r in rows[1:]] == [
        [
            "coordinator",
            "Desactivado",
            "cartera 💎 Premium",
            "coordinator desactivó la cartera 💎 Premium",
            "Activa: sí → no",
        ]
    ]
    assert browser.get("/auditoria/exportar?from=2026-02-01&to=2026-01-01").status_code == 400


def test_a_supervisor_sees_and_exports_only_its_carteras(app, login, make):
    from service.domain.actor import system_actor
    from service.domain.users import set_access
    from service.models import User

    ids = make.org_chart()
    browser = login()
    with app.app_context():
        user = db.session.query(User).filter_by(email="coordinator@example.com").one()
        set_access(
            db.session(), system_actor(), user.id, all_carteras=False, cartera_ids=[ids["premium"]]
        )
        db.session.commit()
    page = table(browser.get("/auditoria").get_data(as_text=True))
    assert "Premium" in page and "Sur VIP" not in page and "Caro" not in page
    exported = browser.get("/auditoria/exportar").get_data(as_text=True)
    assert "Premium" in exported and "Sur VIP" not in exported and "Caro" not in exported


def test_agents_cannot_read_or_export_the_audit(login, make):
    browser = login("agent", make.agent("Luis"), "luis@example.com")
    assert browser.get("/auditoria").status_code == 403
    assert browser.get("/auditoria/exportar").status_code == 403
