"""Hypothesis on every page route (the `ui` blueprint of app.url_map), signed in as a
coordinator: fuzzed query strings on GET, fuzzed form fields (with a valid CSRF token, or a
fuzzed one) on POST, raw bytes included (invalid UTF-8, encoded lone surrogates). No 5xx."""

from __future__ import annotations

import random
import re
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule

from service.domain import tokens
from service.domain.actor import system_actor
from service.extensions import db
from tests.ui.conftest import PASSWORD, Browser, csrf

EXAMPLES = 200
SKIPPED = {"ui.static", "ui.socketio_client", "ui.logout"}  # files; logout ends the session
# Query keys and form fields the pages read, plus a few nobody reads.
KEYS = [
    "page", "q", "event", "period", "lang", "per_page", "move", "contact_id", "role", "active", "x",
    "team_id",
]  # fmt: skip
FIELDS = [
    "name", "icon", "color", "region", "description", "team_id", "agent_id",
    "owner_timeout_seconds", "phones", "emails", "external_ref", "company", "notes",
    "contact_id", "move", "email", "password", "file", "csrf_token",
    "role", "active", "all_carteras", "cartera_ids", "confirm",
    "rocketchat_department_id", "rocketchat_user_id", "rocketchat_username", "team_ids",
    "max_open_chats", "to_agent_id", "deactivate_agent", "open_conversations", "expected", "volver",
]  # fmt: skip
ODD = [
    "١٢", "²", "1e3", "-1", "0", "99999999999999999999", "1.5", "", " ", "\x00", "NaN",
    "0001-01-01", "9999-12-31", "10000-01-01", "today", "created", "en", "\ufeff",
]  # fmt: skip
RAW = [b"\xed\xa0\x80", b"\xff\xfe", b"\xc3", b"%", b"%zz", b"\x00", "é".encode()]

text = st.one_of(st.sampled_from(ODD), st.text(max_size=40))
raw = st.one_of(
    text.map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.sampled_from(RAW),
    st.binary(max_size=30),
)


def encoded(pairs: list[tuple[str, bytes]]) -> str:
    """application/x-www-form-urlencoded of raw bytes (the client cannot encode a surrogate)."""
    return "&".join(f"{quote_from_bytes(k.encode())}={quote_from_bytes(v)}" for k, v in pairs)


def path_of(rule: Rule, ids: dict[str, int], rng: random.Random) -> str:
    path = rule.rule
    for name in rule.arguments:
        if name == "state":
            value = rng.choice(["activar", "desactivar"])
        else:  # the fixture's row (a token only where the test made one), or none such
            value = str(rng.choice([ids.get(name, 1), 1, 2**31 - 1]))
        path = re.sub(rf"<[^>]*:{name}>", value, path)
    return path


@pytest.fixture
def signed_in(app, make):
    team = make.team("Norte")
    agent = make.agent("Luis", [team])
    cartera = make.cartera("Premium", team, agent, "💎")
    contact = make.contact("Ana", cartera, phones=["+52 55 1111 1111"])
    make.user("carla@example.com", "coordinator")
    user = make.user("nora@example.com", "coordinator")
    ids = {
        "cartera_id": cartera,
        "contact_id": contact,
        "user_id": user,
        "team_id": team,
        "agent_id": agent,
    }
    client, token = sign_in(app, "carla@example.com")
    return client, token, ids


def sign_in(app, email):
    browser = Browser(app.test_client())
    signed = browser.submit("/ingresar", data={"email": email, "password": PASSWORD})
    assert signed.status_code == 302
    token = csrf(browser.get("/contactos/nuevo").get_data(as_text=True))
    return browser.client, token


def test_every_page_survives_fuzzed_queries_and_forms(app, signed_in):
    client, token, ids = signed_in
    rules = page_rules(app)
    assert len(rules) >= 15, [r.endpoint for r in rules]
    fuzz(client, token, ids, rules)


def test_the_admin_pages_survive_fuzzing_as_an_admin(app, make, signed_in):
    """Usuarios and the Rocket.Chat sync answer every coordinator 403: the same fuzzing, signed
    in as an admin."""
    _, _, ids = signed_in
    make.user("ana@example.com", "admin")
    client, token = sign_in(app, "ana@example.com")
    with app.app_context():
        issued = tokens.issue_user_token(db.session(), system_actor(), ids["user_id"], "CRM")
        ids["token_id"] = issued.token.id
        db.session.commit()
    rules = [r for r in page_rules(app) if r.rule.startswith(("/usuarios", "/rocketchat"))]
    assert len(rules) >= 7, [r.endpoint for r in rules]
    fuzz(client, token, ids, rules)
    assert client.get("/usuarios").status_code == 200  # still signed in, still an admin


def page_rules(app):
    rules = sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint.startswith("ui.")),
        key=lambda r: r.rule,
    )
    return [r for r in rules if r.endpoint not in SKIPPED]


def fuzz(client, token, ids, rules):
    seen: set[str] = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        index=st.integers(0, len(rules) - 1),
        query=st.lists(st.tuples(st.sampled_from(KEYS), raw), max_size=4),
        form=st.lists(st.tuples(st.sampled_from(FIELDS), raw), max_size=6),
        real_token=st.booleans(),
        seed=st.integers(0, 2**16),
    )
    def exercise(index, query, form, real_token, seed):
        rule = rules[index]
        path = path_of(rule, ids, random.Random(seed))
        qs = encoded(query)
        url = f"{path}?{qs}" if qs else path
        if "POST" in (rule.methods or ()) and (seed % 2 or "GET" not in (rule.methods or ())):
            fields = [(k, v) for k, v in form if k != "csrf_token" or not real_token]
            if real_token:
                fields.append(("csrf_token", token.encode()))
            response = client.post(
                url, data=encoded(fields), content_type="application/x-www-form-urlencoded"
            )
        else:
            response = client.get(url)
        seen.add(rule.endpoint)
        assert response.status_code < 500, (url, response.status_code)

    for number in range(len(rules)):  # each route once as it is, then the fuzzed ones
        exercise = example(index=number, query=[], form=[], real_token=True, seed=1)(exercise)
    exercise()
    assert len(seen) >= len(rules) * 3 // 4, sorted(set(r.endpoint for r in rules) - seen)


def test_odd_page_numbers_show_a_page(signed_in):
    client, _, ids = signed_in
    paths = ("/carteras", "/contactos", "/auditoria", f"/carteras/{ids['cartera_id']}/contactos")
    for page in [*ODD, "%ED%A0%80", "%FF", "+1", "1_000"]:
        for path in paths:
            response = client.get(f"{path}?page={page}")
            assert response.status_code == 200, (path, page, response.status_code)
    # a page past the end is an empty page, not an error
    assert "Ana" not in client.get("/contactos?page=1000000").get_data(as_text=True)


def test_a_huge_csv_field_is_reported_not_a_crash(signed_in, coordinator):
    client, token, _ = signed_in
    big = "name,company\nAna," + "x" * (10 * 1024 * 1024) + "\n"
    response = coordinator.post(
        "/api/contacts/import", data=big.encode(), content_type="text/csv", json=None
    )
    assert response.status_code == 422, response.status_code
    assert response.json["error"]["code"] == "validation_error"
    assert coordinator.get("/api/contacts").json["total"] == 1  # only the fixture's Ana
    small = "name,company\nAna," + "x" * 200_000 + "\n"  # under the page's upload limit
    page = client.post(
        "/contactos/importar",
        data={"csrf_token": token, "file": (__import__("io").BytesIO(small.encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 200 and "no se puede leer después de la línea 1" in page.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01", "9999-12-31"),
        ("9999-12-31", "9999-12-31"),
        ("0001-01-01", "0001-01-01"),
        ("10000-01-01", None),
        (None, "10000-01-01"),
        ("2026-13-01", None),
    ],
)
def test_extreme_dates_in_filters(coordinator, start, end):
    query = {k: v for k, v in (("from", start), ("to", end)) if v}
    for path in ("/api/audit", "/api/conversations"):
        response = coordinator.get(path, query_string=query)
        assert response.status_code in (200, 422), (path, query, response.status_code)
        if all(v and v.startswith(("0001", "9999")) for v in query.values()):
            assert response.status_code == 200, response.json
