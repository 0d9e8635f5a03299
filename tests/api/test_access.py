"""Access control on every /api endpoint: tokens, roles, and an agent's portfolio view.

The matrix below must name every /api route; a new route without an entry fails
test_every_api_route_is_in_the_matrix.
"""

import pytest

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
    as_agent, make, method, rule, path, body, expected
):
    ids = make.org_chart()
    agent = as_agent(ids["luis"])
    response = send(agent, method, fill(path, ids), fill(body, ids))
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected >= 400:
        assert response.json["error"]["code"] == {403: "forbidden", 404: "not_found"}[expected]


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
def test_coordinators_may_do_everything(coordinator, make, method, rule, path, body, _agent):
    ids = make.org_chart()
    response = send(coordinator, method, fill(path, ids), fill(body, ids))
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
    response = send(api, method, fill(path, ids), fill(body, ids))
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected >= 400:
        code = {403: "forbidden", 404: "not_found", 409: "conflict"}[expected]
        assert response.json["error"]["code"] == code
