"""Access control on every /api endpoint: tokens, roles, and an agent's portfolio view.

The matrix below must name every /api route; a new route without an entry fails
test_every_api_route_is_in_the_matrix. Every write of the matrix is also checked in the
database, for every role and grant shape (see "What a write does" below): one that is allowed
changed what it says and wrote its audit events; one that is refused changed nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

CSV = "name,phones\nZoe,55 9999 9999\n"

# (method, rule, path template, body) -> what an agent (Luis, Norte team, owns Premium) gets.
# Templates use the ids of Make.org_chart(): {premium} is his, {sur_vip} is not.
MATRIX = [
    ("GET", "/api/teams", "/api/teams", None, 200),
    ("POST", "/api/teams", "/api/teams", {"name": "Nuevo"}, 403),
    ("GET", "/api/teams/<id:team_id>", "/api/teams/{norte}", None, 200),
    ("PATCH", "/api/teams/<id:team_id>", "/api/teams/{norte}", {"name": "X"}, 403),
    ("DELETE", "/api/teams/<id:team_id>", "/api/teams/{norte}", None, 403),
    ("GET", "/api/agents", "/api/agents", None, 200),
    ("POST", "/api/agents", "/api/agents", {"name": "Nuevo"}, 403),
    ("GET", "/api/agents/<id:agent_id>", "/api/agents/{luis}", None, 200),
    ("PATCH", "/api/agents/<id:agent_id>", "/api/agents/{luis}", {"name": "X"}, 403),
    ("DELETE", "/api/agents/<id:agent_id>", "/api/agents/{marta}", None, 403),
    ("GET", "/api/carteras", "/api/carteras", None, 200),
    ("POST", "/api/carteras", "/api/carteras", {"name": "N", "icon": "x", "team_id": 1}, 403),
    ("GET", "/api/carteras/<id:cartera_id>", "/api/carteras/{premium}", None, 200),
    ("GET", "/api/carteras/<id:cartera_id>", "/api/carteras/{sur_vip}", None, 404),
    ("PATCH", "/api/carteras/<id:cartera_id>", "/api/carteras/{premium}", {"icon": "x"}, 403),
    ("DELETE", "/api/carteras/<id:cartera_id>", "/api/carteras/{premium}", None, 403),
    (
        "POST",
        "/api/carteras/<id:cartera_id>/activate",
        "/api/carteras/{premium}/activate",
        None,
        403,
    ),
    (
        "POST",
        "/api/carteras/<id:cartera_id>/deactivate",
        "/api/carteras/{premium}/deactivate",
        None,
        403,
    ),
    (
        "GET",
        "/api/carteras/<id:cartera_id>/contacts",
        "/api/carteras/{premium}/contacts",
        None,
        200,
    ),
    (
        "GET",
        "/api/carteras/<id:cartera_id>/contacts",
        "/api/carteras/{sur_vip}/contacts",
        None,
        404,
    ),
    (
        "POST",
        "/api/carteras/<id:cartera_id>/contacts",
        "/api/carteras/{premium}/contacts",
        {"contact_ids": ["{dani}"]},
        403,
    ),
    (  # a move: Ana leaves Premium for Compartida
        "POST",
        "/api/carteras/<id:cartera_id>/contacts",
        "/api/carteras/{compartida}/contacts",
        {"contact_ids": ["{ana}"], "move": True},
        403,
    ),
    (
        "DELETE",
        "/api/carteras/<id:cartera_id>/contacts/<id:contact_id>",
        "/api/carteras/{premium}/contacts/{ana}",
        None,
        403,
    ),
    ("GET", "/api/contacts", "/api/contacts", None, 200),
    ("POST", "/api/contacts", "/api/contacts", {"name": "Nuevo"}, 403),
    ("GET", "/api/contacts/<id:contact_id>", "/api/contacts/{ana}", None, 200),
    ("GET", "/api/contacts/<id:contact_id>", "/api/contacts/{beto}", None, 200),
    ("GET", "/api/contacts/<id:contact_id>", "/api/contacts/{caro}", None, 404),
    ("GET", "/api/contacts/<id:contact_id>", "/api/contacts/{dani}", None, 200),
    ("PATCH", "/api/contacts/<id:contact_id>", "/api/contacts/{ana}", {"name": "X"}, 403),
    ("DELETE", "/api/contacts/<id:contact_id>", "/api/contacts/{ana}", None, 403),
    ("POST", "/api/contacts/import", "/api/contacts/import", CSV, 403),
    ("GET", "/api/contacts/export", "/api/contacts/export", None, 200),
    ("GET", "/api/audit", "/api/audit", None, 403),
    ("GET", "/api/audit/export", "/api/audit/export", None, 403),
    ("GET", "/api/inbox", "/api/inbox", None, 403),
    ("GET", "/api/inbox/<bigid:inbox_id>", "/api/inbox/1", None, 403),
    ("GET", "/api/conversations", "/api/conversations", None, 200),
    ("GET", "/api/outbox", "/api/outbox", None, 403),
    (
        "POST",
        "/api/outbox/<bigid:outbox_id>/template",
        "/api/outbox/1/template",
        {"name": "seguimiento", "language": "es_MX"},
        403,
    ),
    (
        "POST",
        "/api/agents/<id:agent_id>/handover",
        "/api/agents/{luis}/handover?dry_run=true",
        {"to_agent_id": "{marta}"},
        403,
    ),
    ("GET", "/api/contacts/<id:contact_id>/history", "/api/contacts/{ana}/history", None, 200),
    ("GET", "/api/contacts/<id:contact_id>/history", "/api/contacts/{caro}/history", None, 404),
    ("GET", "/api/conversations/<bigid:conversation_id>", "/api/conversations/1", None, 404),
    ("POST", "/api/rocketchat/sync", "/api/rocketchat/sync?dry_run=true", None, 403),
    ("GET", "/api/users", "/api/users", None, 403),
    ("POST", "/api/users", "/api/users", {"name": "N", "email": "n@x.mx", "role": "admin"}, 403),
    ("GET", "/api/users/<id:user_id>", "/api/users/1", None, 403),
    ("PATCH", "/api/users/<id:user_id>", "/api/users/1", {"all_carteras": True}, 403),
    ("DELETE", "/api/users/<id:user_id>", "/api/users/1", None, 403),
    ("GET", "/api/users/<id:user_id>/tokens", "/api/users/1/tokens", None, 403),
    ("POST", "/api/users/<id:user_id>/tokens", "/api/users/1/tokens", {"name": "x"}, 403),
    (
        "DELETE",
        "/api/users/<id:user_id>/tokens/<id:token_id>",
        "/api/users/1/tokens/1",
        None,
        403,
    ),
    ("GET", "/api/regions", "/api/regions", None, 200),
    ("POST", "/api/regions", "/api/regions", {"name": "Oeste"}, 403),
    ("GET", "/api/regions/<id:region_id>", "/api/regions/{zona_norte}", None, 200),
    ("PATCH", "/api/regions/<id:region_id>", "/api/regions/{zona_norte}", {"name": "X"}, 403),
    ("DELETE", "/api/regions/<id:region_id>", "/api/regions/{zona_sur}", None, 403),
]
CASES = [pytest.param(*case, id=f"{case[0]} {case[2]}") for case in MATRIX]


def fill(template, ids):
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    if isinstance(template, list):
        return [int(fill(v, ids)) if isinstance(v, str) else v for v in template]
    return template


def send(api, method, path, body):
    if isinstance(body, str):
        return api.post(path, data=body.encode(), content_type="text/csv", json=None)
    if method in ("POST", "PATCH"):
        return getattr(api, method.lower())(path, body)
    return getattr(api, method.lower())(path)


def test_every_api_route_is_in_the_matrix(app):
    covered = {(m, rule) for m, rule, *_ in MATRIX}
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - covered == set()


@pytest.mark.parametrize(("method", "rule", "path", "body", "_agent"), CASES)
def test_no_token_or_a_bad_one_is_401(client, make, method, rule, path, body, _agent):
    ids = make.org_chart()
    path = fill(path, ids)
    for headers in (
        {},
        {"Authorization": "Bearer crt_not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "rule", "path", "body", "expected"), CASES)
def test_agent_reads_only_its_carteras_and_changes_nothing(
    app, as_agent, make, method, rule, path, body, expected
):
    ids = make.org_chart()
    agent = as_agent(ids["luis"])
    before = prepare_write(app, ids, method, path)
    response = send(agent, method, fill(path, ids), fill(body, ids))
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected >= 400:
        assert response.json["error"]["code"] == {403: "forbidden", 404: "not_found"}[expected]
    check_write(app, ids, agent.token, method, path, response, before)


IN_USE = {("DELETE", "/api/teams/<id:team_id>"), ("DELETE", "/api/carteras/<id:cartera_id>")}
ADMIN_ONLY = {  # coordinators get 403 too
    ("POST", "/api/rocketchat/sync"),
    *((m, rule) for m, rule, *_ in MATRIX if rule.startswith("/api/users")),
}
NOTHING_YET = {
    ("GET", "/api/inbox/<bigid:inbox_id>"),
    ("GET", "/api/conversations/<bigid:conversation_id>"),
    ("POST", "/api/outbox/<bigid:outbox_id>/template"),
}  # no message has arrived in these tests


@pytest.mark.parametrize(("method", "rule", "path", "body", "_agent"), CASES)
def test_coordinators_may_do_everything(app, coordinator, make, method, rule, path, body, _agent):
    ids = make.org_chart()
    before = prepare_write(app, ids, method, path)
    response = send(coordinator, method, fill(path, ids), fill(body, ids))
    check_write(app, ids, coordinator.token, method, path, response, before)
    if (method, rule) in ADMIN_ONLY:
        assert response.status_code == 403
    elif (method, rule) in IN_USE:
        assert response.status_code == 409  # still in use: refused by the rules, not the role
    elif (method, rule) in NOTHING_YET:
        assert response.status_code == 404
    else:
        assert response.status_code in (200, 201, 204), response.get_data(as_text=True)


def test_agent_lists_show_only_its_portfolio(as_agent, make):
    ids = make.org_chart()
    luis = as_agent(ids["luis"])
    carteras = [c["name"] for c in luis.get("/api/carteras").json["items"]]
    assert carteras == ["Compartida", "Premium"]  # his own and his team's shared one
    contacts = [c["name"] for c in luis.get("/api/contacts").json["items"]]
    assert contacts == ["Ana", "Beto", "Dani", "Eva"]  # and the customers without a cartera
    assert luis.get("/api/contacts?q=caro").json["total"] == 0
    assert luis.get(f"/api/contacts?cartera_id={ids['sur_vip']}").json["total"] == 0
    exported = luis.get("/api/contacts/export").get_data(as_text=True)
    assert "Ana" in exported and "Beto" in exported and "Caro" not in exported

    pablo = as_agent(ids["pablo"], "pablo-login")
    assert [c["name"] for c in pablo.get("/api/contacts").json["items"]] == [
        "Caro",
        "Dani",
        "Eva",
    ]
    # Norte team, owns nothing herself: the team's shared cartera, never Luis's own
    marta = as_agent(ids["marta"], "marta-login")
    assert [c["name"] for c in marta.get("/api/carteras").json["items"]] == ["Compartida"]
    assert [c["name"] for c in marta.get("/api/contacts").json["items"]] == ["Beto", "Dani", "Eva"]
    assert marta.get(f"/api/carteras/{ids['premium']}").status_code == 404
    assert marta.get(f"/api/contacts/{ids['ana']}").status_code == 404


def test_agent_view_follows_team_changes(coordinator, as_agent, make):
    ids = make.org_chart()
    pablo = as_agent(ids["pablo"], "pablo-login")
    assert pablo.get(f"/api/contacts/{ids['beto']}").status_code == 404
    coordinator.patch(f"/api/agents/{ids['pablo']}", {"team_ids": [ids["sur"], ids["norte"]]})
    assert pablo.get(f"/api/contacts/{ids['beto']}").status_code == 200


def test_revoked_token_is_refused(app, client, make):
    from service.domain.actor import system_actor
    from service.domain.tokens import issue_token, revoke_token
    from service.extensions import db

    with app.app_context():
        issued = issue_token(db.session(), system_actor(), name="temp", role="coordinator")
        db.session.commit()
        token_id = issued.token.id
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert client.get("/api/teams", headers=headers).status_code == 200
    with app.app_context():
        revoke_token(db.session(), system_actor(), token_id)
        db.session.commit()
    assert client.get("/api/teams", headers=headers).status_code == 401


def test_admin_has_coordinator_rights(admin, make):
    ids = make.org_chart()
    assert admin.post(f"/api/carteras/{ids['premium']}/deactivate").status_code == 200
    assert admin.get("/api/audit").status_code == 200


# Grant shapes (issue 12): what a regional supervisor (coordinator granted only the Norte
# carteras, Premium and Compartida), an agent granted a cartera of another team (Luis + Sur
# VIP) and an agent with all carteras (read-only) get, for every case of MATRIX.
# (method, path template) -> (supervisor, agent granted Sur VIP, agent with all carteras)
SHAPES = {
    ("GET", "/api/teams"): (200, 200, 200),
    ("POST", "/api/teams"): (403, 403, 403),
    ("GET", "/api/teams/{norte}"): (200, 200, 200),
    ("PATCH", "/api/teams/{norte}"): (403, 403, 403),
    ("DELETE", "/api/teams/{norte}"): (403, 403, 403),
    ("GET", "/api/agents"): (200, 200, 200),
    ("POST", "/api/agents"): (403, 403, 403),
    ("GET", "/api/agents/{luis}"): (200, 200, 200),
    ("PATCH", "/api/agents/{luis}"): (403, 403, 403),
    ("DELETE", "/api/agents/{marta}"): (403, 403, 403),
    ("GET", "/api/carteras"): (200, 200, 200),
    ("POST", "/api/carteras"): (403, 403, 403),
    ("GET", "/api/carteras/{premium}"): (200, 200, 200),
    ("GET", "/api/carteras/{sur_vip}"): (404, 200, 200),
    ("PATCH", "/api/carteras/{premium}"): (200, 403, 403),
    ("DELETE", "/api/carteras/{premium}"): (409, 403, 403),  # it still has contacts
    ("POST", "/api/carteras/{premium}/activate"): (200, 403, 403),
    ("POST", "/api/carteras/{premium}/deactivate"): (200, 403, 403),
    ("GET", "/api/carteras/{premium}/contacts"): (200, 200, 200),
    ("GET", "/api/carteras/{sur_vip}/contacts"): (404, 200, 200),
    ("POST", "/api/carteras/{premium}/contacts"): (200, 403, 403),
    ("POST", "/api/carteras/{compartida}/contacts"): (200, 403, 403),
    ("DELETE", "/api/carteras/{premium}/contacts/{ana}"): (204, 403, 403),
    ("GET", "/api/contacts"): (200, 200, 200),
    ("POST", "/api/contacts"): (201, 403, 403),
    ("GET", "/api/contacts/{ana}"): (200, 200, 200),
    ("GET", "/api/contacts/{beto}"): (200, 200, 200),
    ("GET", "/api/contacts/{caro}"): (404, 200, 200),
    ("GET", "/api/contacts/{dani}"): (200, 200, 200),
    ("PATCH", "/api/contacts/{ana}"): (200, 403, 403),
    ("DELETE", "/api/contacts/{ana}"): (204, 403, 403),
    ("POST", "/api/contacts/import"): (200, 403, 403),
    ("GET", "/api/contacts/export"): (200, 200, 200),
    ("GET", "/api/audit"): (200, 403, 403),
    ("GET", "/api/audit/export"): (200, 403, 403),
    ("GET", "/api/inbox"): (403, 403, 403),
    ("GET", "/api/inbox/1"): (403, 403, 403),
    ("GET", "/api/conversations"): (200, 200, 200),
    ("GET", "/api/outbox"): (403, 403, 403),
    ("POST", "/api/outbox/1/template"): (403, 403, 403),
    ("POST", "/api/agents/{luis}/handover?dry_run=true"): (403, 403, 403),
    ("GET", "/api/contacts/{ana}/history"): (200, 200, 200),
    ("GET", "/api/contacts/{caro}/history"): (404, 200, 200),
    ("GET", "/api/conversations/1"): (404, 404, 404),
    ("POST", "/api/rocketchat/sync?dry_run=true"): (403, 403, 403),
    ("GET", "/api/users"): (403, 403, 403),
    ("POST", "/api/users"): (403, 403, 403),
    ("GET", "/api/users/1"): (403, 403, 403),
    ("PATCH", "/api/users/1"): (403, 403, 403),
    ("DELETE", "/api/users/1"): (403, 403, 403),
    ("GET", "/api/users/1/tokens"): (403, 403, 403),
    ("POST", "/api/users/1/tokens"): (403, 403, 403),
    ("DELETE", "/api/users/1/tokens/1"): (403, 403, 403),
    ("GET", "/api/regions"): (200, 200, 200),
    ("POST", "/api/regions"): (403, 403, 403),
    ("GET", "/api/regions/{zona_norte}"): (200, 200, 200),
    ("PATCH", "/api/regions/{zona_norte}"): (403, 403, 403),
    ("DELETE", "/api/regions/{zona_sur}"): (403, 403, 403),
}
SHAPE_NAMES = ("supervisor_norte", "agent_granted_sur_vip", "agent_all_carteras")
SHAPE_CASES = [
    pytest.param(shape, *case, id=f"{shape} {case[0]} {case[2]}")
    for case in MATRIX
    for shape in SHAPE_NAMES
]


def shaped_token(app, make, ids, shape):
    """A token whose user has one of the grant shapes above."""
    from service.domain.actor import system_actor
    from service.domain.tokens import issue_token
    from service.domain.users import set_access
    from service.extensions import db

    role, agent_id, everything, granted = {
        "supervisor_norte": ("coordinator", None, False, [ids["premium"], ids["compartida"]]),
        "agent_granted_sur_vip": ("agent", ids["luis"], False, [ids["sur_vip"]]),
        "agent_all_carteras": ("agent", ids["luis"], True, []),
    }[shape]
    with app.app_context():
        session = db.session()
        issued = issue_token(session, system_actor(), name=shape, role=role, agent_id=agent_id)
        set_access(
            session,
            system_actor(),
            issued.token.user_id,
            all_carteras=everything,
            cartera_ids=granted,
        )
        session.commit()
        return issued.secret


def test_every_matrix_case_has_an_answer_for_every_grant_shape():
    assert {(m, path) for m, _, path, *_ in MATRIX} == set(SHAPES)


@pytest.mark.parametrize(("shape", "method", "rule", "path", "body", "_agent"), SHAPE_CASES)
def test_each_grant_shape_gets_what_its_grants_allow(
    app, client, make, shape, method, rule, path, body, _agent
):
    from tests.conftest import Api

    ids = make.org_chart()
    api = Api(client, shaped_token(app, make, ids, shape))
    expected = SHAPES[(method, path)][SHAPE_NAMES.index(shape)]
    before = prepare_write(app, ids, method, path)
    response = send(api, method, fill(path, ids), fill(body, ids))
    check_write(app, ids, api.token, method, path, response, before)
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected >= 400:
        code = {403: "forbidden", 404: "not_found", 409: "conflict"}[expected]
        assert response.json["error"]["code"] == code


# ---- What a write does (issue 18) -----------------------------------------------------------
# Every write of MATRIX, by every role and grant shape above, is checked in the database:
# allowed (2xx), it changed the rows it says, touched no other table, and wrote exactly its
# audit events, by the caller; refused (403, 404, 409), nothing changed at all, no audit event.
# An allowed write without an entry in EFFECTS fails test_every_allowed_write_has_an_effect.

WRITES = {"POST", "PATCH", "DELETE"}
NEW = "new"  # the row the write created (the one row added to that table)
SET = "set"  # any value but None


@dataclass(frozen=True)
class Ref:
    """A value that is an id of Make.org_chart(), e.g. Ref("premium")."""

    name: str


@dataclass(frozen=True)
class Row:
    table: str
    key: str | int  # a name in the ids, a literal id, or NEW
    values: dict[str, Any] | None  # what its columns are now; None: the row is gone


@dataclass(frozen=True)
class Effect:
    rows: tuple[Row, ...] = ()
    audit: tuple[tuple[str, str, str | int | None], ...] = ()  # (event, resource type, key)
    touches: frozenset[str] = frozenset()  # the tables it may change, besides the audit log
    prepare: Callable[[Any, dict[str, int]], None] | None = None  # so that it changes something


def deactivated(name: str) -> Callable[[Any, dict[str, int]], None]:
    def prepare(app: Any, ids: dict[str, int]) -> None:
        from service.domain import carteras
        from service.domain.actor import system_actor
        from service.extensions import db

        with app.app_context():
            carteras.set_active(db.session(), system_actor("tests"), ids[name], False)
            db.session.commit()

    return prepare


def one(
    table: str, key: str | int, values: dict[str, Any] | None, event: str, resource: str
) -> Effect:
    """The usual write: one row of *table* created, changed or gone, one audit event on it."""
    return Effect(
        rows=(Row(table, key, values),), audit=((event, resource, key),), touches=frozenset({table})
    )


NOTHING = Effect()  # dry runs: answered, nothing changed
EFFECTS: dict[tuple[str, str], Effect] = {
    ("POST", "/api/teams"): one("teams", NEW, {"name": "Nuevo"}, "created", "team"),
    ("PATCH", "/api/teams/{norte}"): one("teams", "norte", {"name": "X"}, "updated", "team"),
    ("POST", "/api/agents"): one("agents", NEW, {"name": "Nuevo"}, "created", "agent"),
    ("PATCH", "/api/agents/{luis}"): one("agents", "luis", {"name": "X"}, "updated", "agent"),
    ("DELETE", "/api/agents/{marta}"): Effect(
        rows=(Row("agents", "marta", None),),
        audit=(("deleted", "agent", "marta"),),
        touches=frozenset({"agents", "agent_teams"}),
    ),
    ("POST", "/api/carteras"): one(
        "carteras", NEW, {"name": "N", "icon": "x", "team_id": 1}, "created", "cartera"
    ),
    ("PATCH", "/api/carteras/{premium}"): one(
        "carteras", "premium", {"icon": "x"}, "updated", "cartera"
    ),
    ("POST", "/api/carteras/{premium}/activate"): Effect(
        rows=(Row("carteras", "premium", {"active": True}),),
        audit=(("activated", "cartera", "premium"),),
        touches=frozenset({"carteras"}),
        prepare=deactivated("premium"),
    ),
    ("POST", "/api/carteras/{premium}/deactivate"): one(
        "carteras", "premium", {"active": False}, "deactivated", "cartera"
    ),
    ("POST", "/api/carteras/{premium}/contacts"): Effect(
        rows=(Row("contacts", "dani", {"cartera_id": Ref("premium")}),),
        audit=(("contact_added", "cartera", "premium"),),
        touches=frozenset({"contacts"}),
    ),
    ("POST", "/api/carteras/{compartida}/contacts"): Effect(
        rows=(Row("contacts", "ana", {"cartera_id": Ref("compartida")}),),
        audit=(("contact_moved", "cartera", "compartida"),),
        touches=frozenset({"contacts"}),
    ),
    ("DELETE", "/api/carteras/{premium}/contacts/{ana}"): Effect(
        rows=(Row("contacts", "ana", {"cartera_id": None}),),
        audit=(("contact_removed", "cartera", "premium"),),
        touches=frozenset({"contacts"}),
    ),
    ("POST", "/api/contacts"): one("contacts", NEW, {"name": "Nuevo"}, "created", "contact"),
    ("PATCH", "/api/contacts/{ana}"): one("contacts", "ana", {"name": "X"}, "updated", "contact"),
    ("DELETE", "/api/contacts/{ana}"): Effect(
        rows=(Row("contacts", "ana", None),),
        audit=(("deleted", "contact", "ana"),),
        touches=frozenset({"contacts", "contact_identities"}),
    ),
    ("POST", "/api/contacts/import"): Effect(
        rows=(Row("contacts", NEW, {"name": "Zoe", "cartera_id": None}),),
        audit=(("imported", "contact", None),),
        touches=frozenset({"contacts", "contact_identities"}),
    ),
    ("POST", "/api/agents/{luis}/handover?dry_run=true"): NOTHING,
    ("POST", "/api/users"): Effect(
        rows=(Row("users", NEW, {"name": "N", "email": "n@x.mx", "role": "admin"}),),
        audit=(("created", "user", NEW),),
        touches=frozenset({"users"}),
    ),
    ("PATCH", "/api/users/1"): one("users", 1, {"all_carteras": True}, "updated", "user"),
    ("DELETE", "/api/users/1"): Effect(
        rows=(Row("users", 1, None), Row("api_tokens", 1, None)),
        audit=(("deleted", "user", 1),),
        touches=frozenset({"users", "api_tokens", "user_carteras"}),
    ),
    ("POST", "/api/users/1/tokens"): Effect(
        rows=(Row("api_tokens", NEW, {"user_id": 1, "name": "x", "revoked_at": None}),),
        audit=(("created", "token", NEW),),
        touches=frozenset({"api_tokens"}),
    ),
    ("DELETE", "/api/users/1/tokens/1"): Effect(
        rows=(Row("api_tokens", 1, {"revoked_at": SET}),),
        audit=(("deleted", "token", 1),),
        touches=frozenset({"api_tokens", "users"}),  # the user's sessions end too
    ),
    ("POST", "/api/regions"): one("regions", NEW, {"name": "Oeste"}, "created", "region"),
    ("PATCH", "/api/regions/{zona_norte}"): one(
        "regions", "zona_norte", {"name": "X"}, "updated", "region"
    ),
    ("DELETE", "/api/regions/{zona_sur}"): one("regions", "zona_sur", None, "deleted", "region"),
}
# Refused to everyone here, so checked to change nothing like every refused write: IN_USE
# (by the rules), NOTHING_YET (no such message), NOT_CONFIGURED (no Rocket.Chat to sync with).
NOT_CONFIGURED = {("POST", "/api/rocketchat/sync")}
ALLOWED_WRITES = {
    (m, path)
    for m, rule, path, *_ in MATRIX
    if m in WRITES and (m, rule) not in IN_USE | NOTHING_YET | NOT_CONFIGURED
}
WRITE_CASES = [case for case in CASES if case.values[0] in WRITES]


def snapshot(app: Any) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every row of every table, by primary key."""
    from service.extensions import db

    with app.app_context():
        found: dict[str, dict[Any, dict[str, Any]]] = {}
        for table in db.metadata.sorted_tables:
            keys = list(table.primary_key.columns)
            rows = db.session.execute(sa.select(table)).mappings().all()
            found[table.name] = {
                tuple(row[k.name] for k in keys) if len(keys) > 1 else row[keys[0].name]: dict(row)
                for row in rows
            }
        db.session.rollback()
        return found


@dataclass
class Diff:
    added: dict[Any, dict[str, Any]] = field(default_factory=dict)
    removed: dict[Any, dict[str, Any]] = field(default_factory=dict)
    changed: dict[Any, dict[str, tuple[Any, Any]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Diff]:
    found: dict[str, Diff] = {}
    for table, old in before.items():
        new = after[table]
        diff = Diff(
            added={k: v for k, v in new.items() if k not in old},
            removed={k: v for k, v in old.items() if k not in new},
            changed={
                k: {c: (old[k][c], v[c]) for c in v if old[k][c] != v[c]}
                for k, v in new.items()
                if k in old and old[k] != v
            },
        )
        if diff:
            found[table] = diff
    return found


def prepare_write(app: Any, ids: dict[str, int], method: str, path: str) -> Any:
    """Before a write: bring the data to where the write would change something (an inactive
    cartera to activate), then the snapshot to compare with. None for reads."""
    if method not in WRITES:
        return None
    effect = EFFECTS.get((method, path))
    if effect is not None and effect.prepare is not None:
        effect.prepare(app, ids)
    return snapshot(app)


def caller(app: Any, token: str) -> int:
    from service.domain.tokens import hash_token
    from service.extensions import db
    from service.models import ApiToken

    with app.app_context():
        user_id = db.session.scalar(
            sa.select(ApiToken.user_id).where(ApiToken.token_hash == hash_token(token))
        )
        assert user_id is not None
        return int(user_id)


def check_write(
    app: Any, ids: dict[str, int], token: str, method: str, path: str, response: Any, before: Any
) -> None:
    """An allowed write did what EFFECTS says; a refused one changed nothing."""
    if before is None:
        return
    diff = changes(before, snapshot(app))
    if response.status_code >= 400:
        assert diff == {}, f"refused ({response.status_code}) but changed: {diff}"
        return
    effect = EFFECTS[(method, path)]
    assert set(diff) - {"audit_events"} <= effect.touches, f"changed more: {diff}"
    made: dict[str, int] = {}
    for row in effect.rows:
        table = diff.get(row.table, Diff())
        if row.key == NEW:
            assert len(table.added) == 1, f"{row.table}: {table}"
            key = made[row.table] = next(iter(table.added))
        else:
            key = ids[row.key] if isinstance(row.key, str) else row.key
        if row.values is None:
            assert key in table.removed, f"{row.table} {key} not removed: {table}"
            continue
        now = {**table.changed.get(key, {})}
        assert key in table.added or now, f"{row.table} {key} unchanged"
        current = table.added.get(key) or {c: new for c, (_, new) in now.items()}
        for column, wanted in row.values.items():
            value = current.get(column, before[row.table].get(key, {}).get(column))
            if wanted == SET:
                assert value is not None, f"{row.table} {key}.{column} not set"
            else:
                wanted = ids[wanted.name] if isinstance(wanted, Ref) else wanted
                assert value == wanted, f"{row.table} {key}.{column}: {value!r}"
    events = [diff["audit_events"].added[k] for k in sorted(diff.get("audit_events", Diff()).added)]
    first_new = next(iter(made.values()), None)
    expected = [
        (
            event,
            resource,
            first_new if key == NEW else ids[key] if isinstance(key, str) else key,
        )
        for event, resource, key in effect.audit
    ]
    assert [(e["event"], e["resource_type"], e["resource_id"]) for e in events] == expected
    assert {e["actor_user_id"] for e in events} <= {caller(app, token)}


def test_every_allowed_write_has_an_effect():
    """A write someone may do (MATRIX) says what it changes (EFFECTS), and nothing else is
    in EFFECTS."""
    assert set(EFFECTS) == ALLOWED_WRITES


@pytest.mark.parametrize(("method", "rule", "path", "body", "_agent"), WRITE_CASES)
def test_admins_may_write_everything_and_it_shows(
    app, client, make, method, rule, path, body, _agent
):
    """The /api/users writes only an admin may do among them: user 1 (with token 1) is
    Pablo's login, made first for them, and sees only his carteras."""
    from tests.conftest import Api

    ids = make.org_chart()
    make.token("agent", "Uno", ids["pablo"])
    admin = Api(client, make.token("admin", "Ana Admin"))
    before = prepare_write(app, ids, method, path)
    response = send(admin, method, fill(path, ids), fill(body, ids))
    if (method, rule) in IN_USE:
        assert response.status_code == 409
    elif (method, rule) in NOT_CONFIGURED:
        assert response.status_code == 422
    elif (method, rule) in NOTHING_YET:
        assert response.status_code == 404
    else:
        assert response.status_code in (200, 201, 204), response.get_data(as_text=True)
    check_write(app, ids, admin.token, method, path, response, before)
