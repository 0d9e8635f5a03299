"""Spanish everywhere (issue 13, item 1): every page, form error, flash message, error page
and download the pages offer, rendered in Spanish, holds no English word (names aside).

The pages come from the app's own routes (every GET route of the ``ui`` blueprint, with the
paths test_page_matrix.MATRIX gives it, so a new page is read here without a new line), then
every form of MATRIX is sent as an admin (invalid data for most), then a few more invalid
forms, the import preview and report, the sign-in page and the 400/403/404/405/500 pages.
What is read: the text of the page outside script and style, the JSON texts the scripts
show, and the attributes people read (title, placeholder, aria-label, alt, the values of
buttons, the confirmations and texts app.js shows).
"""

from __future__ import annotations

import json
import re
from io import BytesIO

import pytest
import sqlalchemy as sa

from service.extensions import db
from service.models import (
    Agent,
    ApiToken,
    AuditEvent,
    Cartera,
    Contact,
    Conversation,
    Region,
    Team,
    User,
)
from tests.ui.conftest import Browser, csrf
from tests.ui.english import english_words, in_context, visible_text
from tests.ui.test_page_matrix import MATRIX, PUBLIC, RESETS, fill, people


def data_names(app) -> list[str]:
    """Every name and email the test data holds: the words in them are names, not text."""
    with app.app_context():
        session = db.session()
        columns = (
            Team.name,
            Agent.name,
            Agent.email,
            Agent.rocketchat_username,
            Cartera.name,
            Cartera.description,
            Contact.name,
            Contact.company,
            Contact.notes,
            Contact.external_ref,
            Region.name,
            User.name,
            User.email,
            ApiToken.name,
            AuditEvent.actor_name,
            AuditEvent.resource_name,
            AuditEvent.related_name,
        )
        found = {value for column in columns for value in session.scalars(sa.select(column))}
    return sorted(str(value) for value in found if value)


class Reader:
    """Reads the pages one browser gets and keeps the English it finds, per page."""

    def __init__(self, app, browser) -> None:
        self.app, self.browser = app, browser
        self.found: dict[str, list[str]] = {}
        self.read: list[str] = []

    def check(self, label: str, response, expected=(200,)) -> str:
        assert response.status_code in expected, (label, response.status_code)
        body = response.get_data(as_text=True)
        kind = response.mimetype
        if kind == "text/html":
            text = visible_text(body)
        elif kind in ("text/csv", "text/plain"):
            text = body
        else:
            return body  # a spreadsheet, a script: no text of ours
        self.read.append(label)
        english = english_words(text, data_names(self.app))
        if english:
            self.found[label] = [in_context(word, text) for word in sorted(english)]
        return body

    def report(self) -> str:
        return json.dumps(self.found, indent=1, ensure_ascii=False)

    def get(self, path: str, expected=(200,)) -> str:
        response = self.browser.get(path, follow_redirects=True)
        return self.check(f"GET {path}", response, expected)

    def post(self, path: str, data: dict, expected=(200,), label: str = "", **kw) -> str:
        token = csrf(self.browser.get(kw.pop("form_page", "/contactos")).get_data(as_text=True))
        response = self.browser.client.post(
            path, data={"csrf_token": token, **data}, follow_redirects=True, **kw
        )
        return self.check(label or f"POST {path} {sorted(data)}", response, expected)


NOT_TEXT = {"ui.static", "ui.socketio_client"}  # files: a stylesheet, scripts


def page_paths(app, ids) -> list[str]:
    """A path for every GET page of the ``ui`` blueprint, from MATRIX (whose own test makes
    sure each route has a row there)."""
    by_rule: dict[str, list[str]] = {}
    for method, rule, path, _data, _answers in MATRIX:
        if method == "GET":
            by_rule.setdefault(rule, []).append(fill(path, ids))
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("ui.") or "GET" not in rule.methods:
            continue
        if rule.endpoint in NOT_TEXT or ("GET", rule.rule) in PUBLIC:
            continue
        assert rule.rule in by_rule, f"{rule.rule}: add it to test_page_matrix.MATRIX"
        paths += by_rule[rule.rule]
    return paths


def conversation_for(app, ids, channel: str) -> None:
    with app.app_context():
        db.session.add(
            Conversation(
                contact_id=ids["ana"],
                channel=channel,
                provider="meta" if channel == "whatsapp" else "mailgun",
                thread_key=f"hilo-{channel}",
                status="open",
                cartera_id=ids["premium"],
                cartera_name="Premium",
                cartera_icon="💎",
                agent_id=ids["luis"],
                agent_name="Luis",
                served_by_agent_id=ids["marta"],
                routed_to="agent",
                reason="owner_agent",
                trace={},
            )
        )
        db.session.commit()


@pytest.fixture
def site(app, make):
    """The org chart with its people (test_page_matrix), two conversations of Ana's and an
    admin's reader."""
    ids, browsers = people(app, make)
    for channel in ("whatsapp", "email"):
        conversation_for(app, ids, channel)
    return ids, browsers, Reader(app, browsers["admin"])


def test_every_page_reads_in_spanish(app, site):
    ids, _browsers, reader = site
    for path in page_paths(app, ids):
        reader.get(path)
    assert len(reader.read) > 30
    assert reader.found == {}, reader.report()


def test_every_form_and_what_it_answers_reads_in_spanish(app, site):
    """MATRIX's forms as an admin (most with an empty name), then the pages again: the
    audit now holds an event of nearly every kind."""
    ids, _browsers, reader = site
    for method, _rule, path, data, _answers in MATRIX:
        if method != "POST":
            continue
        if path in RESETS:
            with app.app_context():
                RESETS[path](ids)
                db.session.commit()
        form = {k: fill(v, ids) for k, v in (data or {}).items()}
        reader.post(fill(path, ids), form, expected=(200, 400, 404))
    for path in page_paths(app, ids):
        reader.get(path)
    assert reader.found == {}, reader.report()


INVALID_FORMS = [
    ("/carteras/nueva", {"name": "", "icon": "", "color": "rojo", "owner_timeout_seconds": "-5"}),
    ("/contactos/nuevo", {"name": "", "phones": "abc; 12", "emails": "no-es-correo"}),
    ("/contactos/nuevo", {"name": "Otra Ana", "phones": "+52 55 1111 1111"}),  # taken
    ("/regiones/nueva", {"name": "Zona Norte"}),  # taken
    ("/equipos/nuevo", {"name": "Norte"}),  # taken
    ("/agentes/nuevo", {"name": "", "email": "x", "max_open_chats": "0"}),
    ("/usuarios/nuevo", {"name": "", "email": "no-es-correo", "password": "corta"}),
    ("/usuarios/nuevo", {"name": "Zoe", "email": "zoe@example.com", "role": "agent"}),
    ("/usuarios/{zoe}/clave", {"password": "una", "confirm": "otra"}),
    ("/usuarios/{zoe}/tokens", {"name": ""}),
    ("/usuarios/{zoe}/tokens", {"name": "x" * 200}),
    ("/agentes/{luis}/traspasar", {"to_agent_id": "{luis}", "open_conversations": "leave"}),
    ("/agentes/{luis}/traspasar", {"to_agent_id": "None", "open_conversations": "reforward"}),
    ("/contactos/{ana}/cartera", {"cartera": "{compartida}"}),
    ("/contactos/{ana}/cartera", {"cartera": "ninguna"}),
    ("/carteras/{compartida}/contactos", {"contact_id": "{ana}"}),  # in Premium: asks
    ("/carteras/{premium}/contactos/seleccion", {"contact_id": "{ana}", "accion": "mover"}),
    ("/carteras/{premium}/contactos/seleccion", {"accion": "quitar"}),
]


def test_invalid_forms_say_what_is_wrong_in_spanish(app, site):
    ids, _browsers, reader = site
    for path, data in INVALID_FORMS:
        body = reader.post(fill(path, ids), {k: fill(v, ids) for k, v in data.items()})
        assert body  # a page (the form again, or where it led)
    reader.get("/auditoria?from=ayer&to=2020-01-01")
    reader.get("/auditoria?from=2026-02-01&to=2026-01-01")
    reader.get("/contactos?q=nadie&cartera=ninguna&empresa=x")
    assert reader.found == {}, reader.report()


CSV_ROWS = (
    "nombre,teléfonos,correos,referencia,empresa,notas,cartera,región\n"
    "Ana,+52 55 1111 1111,,,,,Compartida,\n"  # in Premium, no «Mover»: refused
    "Nuevo Cliente,55 9999 0000,nuevo@example.com,CRM-9,ACME,,Premium,Zona Norte\n"
    ",55 1,,,,,,\n"  # no name, a bad phone
    "Caro,,caro@example.com,,,,No existe,\n"  # no such cartera
    "Renombrado,+52 55 2222 2222,,CRM-5,,,,\n"  # Beto's phone, Eva's ref
)


def upload(reader, content: bytes) -> str:
    return reader.post(
        "/contactos/importar",
        {"file": (BytesIO(content), "contactos.csv")},
        label=f"POST /contactos/importar {content[:20]!r}",
        content_type="multipart/form-data",
    )


def test_the_import_preview_and_report_read_in_spanish(app, site):
    ids, _browsers, reader = site
    reader.post("/contactos/importar", {}, label="POST /contactos/importar (no file)")
    upload(reader, b"")
    upload(reader, b"name;phone\n\x00\x01")
    upload(reader, b"foo,bar\n1,2\n")
    preview = upload(reader, CSV_ROWS.encode())
    assert "Filas rechazadas" in preview
    token = re.search(r'name="preview"[^>]*value="([^"]+)"', preview)
    assert token
    saved = reader.post("/contactos/importar/guardar", {"preview": token[1], "move": ""})
    assert "Importación guardada" in saved
    reader.post("/contactos/importar/guardar", {"preview": token[1], "move": ""})  # gone
    reader.get("/auditoria")
    reader.get("/auditoria/exportar")
    reader.get("/contactos/exportar")
    assert reader.found == {}, reader.report()


def test_error_pages_read_in_spanish(app, site, monkeypatch):
    ids, browsers, reader = site
    reader.get("/no-existe", expected=(404,))
    reader.get("/carteras/999999/editar", expected=(404,))
    reader.get("/salir", expected=(405,))  # a form's address, opened as a page
    reader.post(
        f"/carteras/{ids['premium']}/contactos/seleccion",
        {"contact_id": str(ids["beto"]), "accion": "mover", "destino": "999999"},
        expected=(404,),
    )
    reader.post(
        f"/carteras/{ids['premium']}/contactos/seleccion",
        {"contact_id": str(ids["ana"]), "accion": "otra"},
        expected=(400,),
    )
    agent = Reader(app, browsers["luis"])
    for path in ("/usuarios", "/carteras/nueva", "/regiones", "/equipos", "/auditoria"):
        agent.get(path, expected=(403,))

    def broken() -> str:
        raise RuntimeError("boom")

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setitem(app.view_functions, "ui.regions", broken)
    reader.get("/regiones", expected=(500,))
    assert reader.found == {}, reader.report()
    assert agent.found == {}, agent.report()


def test_the_sign_in_page_reads_in_spanish(app, make):
    make.user("carla@example.com", "coordinator")
    reader = Reader(app, Browser(app.test_client()))
    reader.get("/ingresar")
    reader.get("/carteras")  # to sign-in, saying why
    reader.post(
        "/ingresar", {"email": "", "password": ""}, label="empty sign-in", form_page="/ingresar"
    )
    reader.post(
        "/ingresar",
        {"email": "carla@example.com", "password": "mala"},
        label="bad",
        form_page="/ingresar",
    )
    assert reader.found == {}, reader.report()


# --- the check itself ------------------------------------------------------------------------


def test_the_check_reads_text_attributes_and_script_texts():
    html = (
        "<html><head><title>Carteras</title><style>body { color: red }</style></head><body>"
        '<p>Guardado</p><input type="search" placeholder="Search by name">'
        '<button aria-label="Close">×</button><input type="submit" value="Save">'
        '<form data-confirm="Delete it?"></form><a title="Next page" href="/the/path">→</a>'
        '<script>var the = "and";</script>'
        '<script type="application/json">{"lost": "Connection lost", "x": ["Retrying"]}</script>'
        "</body></html>"
    )
    found = english_words(visible_text(html))
    attributes = {"search", "by", "name", "close", "save", "delete", "it", "next", "page"}
    assert found == attributes | {"connection", "lost", "retrying"}
    assert english_words("Página 2 de 5 · No hay contactos. Use un color como #1E88E5.") == set()


def test_names_are_not_english_text():
    names = ["Billing Team", "ana@example.com"]
    assert english_words("Billing Team creó la cartera · ana@example.com", names) == set()
    assert english_words("The team Billing Team was created", names) == {
        "the",
        "team",
        "was",
        "created",
    }


def test_the_page_check_fails_on_english(app, site, monkeypatch):
    """English on a page is caught: a rule's message, a channel's name and an error page
    say it in English for this test."""
    from service.ui import formats, messages

    ids, _browsers, reader = site
    monkeypatch.setitem(messages.RULES, "region.name_taken", "That region already exists.")
    monkeypatch.setitem(formats.CHANNEL_LABELS, "email", "Email")
    monkeypatch.setitem(messages.STATUS, 404, "Page not found")
    reader.post("/regiones/nueva", {"name": "Zona Norte"})
    reader.get(f"/contactos/{ids['ana']}")
    reader.get("/no-existe", expected=(404,))
    found = {label: [said.split(":")[0] for said in words] for label, words in reader.found.items()}
    assert found == {
        "POST /regiones/nueva ['name']": ["already", "exists", "region", "that"],
        f"GET /contactos/{ids['ana']}": ["email"],
        "GET /no-existe": ["found", "not", "page"],
    }
