"""Numbers, times and channels as the pages write them (issue 13, item 1): counts with es-419's
separators ("12,000"), times on the service's clock (the tests' CARTERAS_TIMEZONE is
America/Mexico_City, UTC-6) with "hace 5 min" within a day, channels by their Spanish names;
and the error pages of addresses no route answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from service.domain import audit
from service.domain.actor import Actor, system_actor
from service.domain.tokens import issue_user_token
from service.extensions import db
from service.models import ApiToken, Conversation, User
from service.ui import formats

CLOCK = Actor(user_id=None, name="reloj", role="admin")
# 02:30 UTC on the 15th is 20:30 on the 14th in Mexico City
AT = datetime(2026, 1, 15, 2, 30, tzinfo=UTC)


def test_numbers_are_written_as_latin_american_spanish_and_english_do(app):
    for lang in ("es", "en"):
        with app.test_request_context(f"/?lang={lang}"):
            assert formats.number(12000) == "12,000"
            assert formats.number(1234567.5) == "1,234,567.5"
            assert formats.number(7) == "7"
            assert formats.number(None) == "" and formats.number("12000") == "12000"
            assert formats.ngettext("%(num)s fila", "%(num)s filas", 12000) == (
                "12,000 filas" if lang == "es" else "12,000 rows"
            )


def test_times_are_local_and_recent_ones_say_how_long_ago(app):
    with app.test_request_context("/"):
        assert formats.local_time(AT) == "2026-01-14 20:30"
        assert formats.local_time(None) == "—"
        assert formats.ago(AT) == ""  # older than a day: the time says it
        assert formats.ago(datetime.now(UTC) - timedelta(minutes=5)) == "hace 5 min"
        assert formats.channel_label("email") == "Correo"
        assert formats.channel_label("whatsapp") == "WhatsApp"
        assert formats.channel_label("otro") == "otro"


def conversation(app, contact_id: int, channel: str, opened_at: datetime) -> None:
    with app.app_context():
        db.session.add(
            Conversation(
                contact_id=contact_id,
                channel=channel,
                provider="mailgun",
                thread_key=f"hilo-{channel}",
                status="open",
                routed_to="queue",
                reason="no_cartera",
                trace={},
                opened_at=opened_at,
            )
        )
        db.session.commit()


def test_the_ficha_shows_conversations_and_history_in_local_time(app, login, make):
    ids = make.org_chart()
    conversation(app, ids["dani"], "email", AT)
    html = login().get(f"/contactos/{ids['dani']}").get_data(as_text=True)
    assert ">2026-01-14 20:30</time>" in html and "2026-01-15 02:30" not in html
    assert 'title="America/Mexico_City"' in html
    assert "<td>Correo</td>" in html and "<td>email</td>" not in html
    history = login("admin", email="jefa@example.com").get(f"/contactos/{ids['ana']}")
    assert "(hace un momento)" in history.get_data(as_text=True)  # the cartera's history


def test_the_agent_page_says_when_each_conversation_opened(app, login, make):
    ids = make.org_chart()
    conversation(app, ids["dani"], "email", datetime.now(UTC) - timedelta(minutes=5))
    html = login("admin").get("/agente").get_data(as_text=True)
    assert '<span class="chan">Correo</span>' in html
    assert "(hace 5 min)" in html


def test_tokens_say_when_in_local_time(app, login):
    browser = login("admin")
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "admin@example.com"))
        token = issue_user_token(db.session(), system_actor("t"), user_id, "integración").token
        token.created_at = AT
        token.revoked_at = AT + timedelta(hours=1)
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 1
    html = browser.get(f"/usuarios/{user_id}/tokens").get_data(as_text=True)
    text = re.sub(r"<[^>]+>|\s+", " ", html)
    assert "Creado el 2026-01-14 20:30 · Revocado el 2026-01-14 21:30" in " ".join(text.split())
    assert "UTC" not in text


def test_counts_have_thousands_separators(app, login):
    with app.app_context():
        session = db.session()
        for n in range(1001):
            audit.record(session, CLOCK, "created", "team", None, f"equipo {n}")
        audit.record(
            session,
            CLOCK,
            "imported",
            "contact",
            None,
            None,
            after={"rows": 12000, "created": 11000, "updated": 1000, "rejected": 0},
        )
        session.commit()
    browser = login()
    page = browser.get("/auditoria").get_data(as_text=True)
    assert "Página 1 de 41 · 1,003 en total" in page  # and the signed-in user's creation
    assert (
        "reloj importó un CSV de contactos: 12,000 filas, 11,000 nuevos, 1,000 actualizados" in page
    )
    english = browser.get("/auditoria?lang=en").get_data(as_text=True)
    assert "reloj imported a contacts CSV: 12,000 rows, 11,000 new, 1,000 updated" in english


def test_an_unknown_address_is_a_spanish_page_for_browsers_and_json_for_the_api(client):
    page = client.get("/no-existe", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Esta página no existe o no está a su alcance." in page.get_data(as_text=True)
    wrong_method = client.get("/salir")
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "text/html"
    assert "POST" in wrong_method.headers["Allow"]
    for path, headers in (
        ("/api/v0/nada", {}),
        ("/webhooks/nada", {}),
        ("/no-existe", {"Accept": "application/json"}),
    ):
        answer = client.get(path, headers=headers)
        assert answer.mimetype == "application/json", path
        assert answer.get_json()["error"]["code"] in ("not_found", "unauthorized"), path
