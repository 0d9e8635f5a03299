"""The users API (admins): users with their role, agent and carteras; tokens shown once."""

from sqlalchemy import select

from service.extensions import db
from service.models import ApiToken, AuditEvent, User
from tests.conftest import Api


def audit_of(app, user_id):
    with app.app_context():
        return [
            (e.event, e.before, e.after)
            for e in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.resource_type == "user", AuditEvent.resource_id == user_id)
                .order_by(AuditEvent.id)
            )
        ]


def test_an_admin_creates_a_seller_with_a_shared_cartera_and_it_sees_it(app, admin, make):
    ids = make.org_chart()
    created = admin.post(
        "/api/users",
        {
            "name": "Pablo Vendedor",
            "email": "Pablo.V@Example.com",
            "role": "agent",
            "agent_id": ids["pablo"],
            "cartera_ids": [ids["compartida"]],
            "password": "una-clave-segura",
        },
    )
    assert created.status_code == 201, created.json
    user = created.json
    assert user["email"] == "pablo.v@example.com" and "password" not in user
    assert (user["all_carteras"], user["cartera_ids"]) == (False, [ids["compartida"]])
    assert user["carteras"] == [{"id": ids["compartida"], "name": "Compartida", "icon": "🤝"}]
    assert user["has_password"] is True
    with app.app_context():
        assert db.session.get(User, user["id"]).password_hash.startswith("scrypt$")

    issued = admin.post(f"/api/users/{user['id']}/tokens", {"name": "móvil"})
    assert issued.status_code == 201 and issued.json["token"].startswith("crt_")
    seller = Api(app.test_client(), issued.json["token"])
    # his own Sur VIP, the Norte team's shared cartera granted to him, and the unassigned
    assert [c["name"] for c in seller.get("/api/carteras").json["items"]] == [
        "Compartida",
        "Sur VIP",
    ]
    listed = admin.get(f"/api/users/{user['id']}/tokens").json
    assert listed["total"] == 1 and listed["items"][0]["prefix"] == issued.json["token"][:10]
    assert "token" not in listed["items"][0]

    # revoked: the token stops at once
    revoke = admin.delete(f"/api/users/{user['id']}/tokens/{issued.json['id']}")
    assert revoke.status_code == 204
    assert seller.get("/api/carteras").status_code == 401
    assert admin.get(f"/api/users/{user['id']}/tokens").json["items"][0]["active"] is False
    assert admin.delete(f"/api/users/{user['id']}/tokens/999").status_code == 404


def test_patching_grants_applies_at_once_and_is_audited_with_names(app, admin, make):
    ids = make.org_chart()
    user = admin.post(
        "/api/users",
        {"name": "Supervisora", "email": "sup@example.com", "role": "coordinator"},
    ).json
    assert user["all_carteras"] is True  # a blank profile: every cartera
    token = admin.post(f"/api/users/{user['id']}/tokens", {"name": "api"}).json["token"]
    supervisor = Api(app.test_client(), token)
    assert supervisor.get("/api/carteras").json["total"] == 3

    changed = admin.patch(
        f"/api/users/{user['id']}", {"all_carteras": False, "cartera_ids": [ids["sur_vip"]]}
    )
    assert changed.status_code == 200 and changed.json["cartera_ids"] == [ids["sur_vip"]]
    assert [c["name"] for c in supervisor.get("/api/carteras").json["items"]] == ["Sur VIP"]
    assert supervisor.post("/api/teams", {"name": "Oeste"}).status_code == 403
    grants = [e for e in audit_of(app, user["id"]) if e[0] == "updated"]
    assert grants == [
        (
            "updated",
            {"all_carteras": True, "carteras": []},
            {"all_carteras": False, "carteras": [{"id": ids["sur_vip"], "name": "Sur VIP"}]},
        )
    ]
    listed = admin.get("/api/users?q=sup").json
    assert set(listed) == {"items", "total", "page", "per_page"}
    assert [u["id"] for u in listed["items"]] == [user["id"]]


def test_user_changes_are_validated_with_the_json_error_shape(app, admin, coordinator, make):
    ids = make.org_chart()
    body = {"name": "A", "email": "a@example.com", "role": "agent"}
    missing_agent = admin.post("/api/users", body)
    assert missing_agent.status_code == 422
    assert "agent_id" in missing_agent.json["error"]["details"]["fields"]
    bad_cartera = admin.post("/api/users", {**body, "agent_id": ids["luis"], "cartera_ids": [999]})
    assert bad_cartera.status_code == 422
    assert "cartera_ids" in bad_cartera.json["error"]["details"]["fields"]
    assert admin.post("/api/users", {**body, "agent_id": ids["luis"]}).status_code == 201
    taken = admin.post("/api/users", {**body, "agent_id": ids["luis"]})
    assert taken.status_code == 409 and taken.json["error"]["code"] == "conflict"
    short = admin.post("/api/users", {**body, "email": "b@example.com", "password": "corta"})
    assert short.status_code == 422
    assert admin.get("/api/users/9999").json["error"]["code"] == "not_found"
    assert coordinator.get("/api/users").json["error"]["code"] == "forbidden"


def test_deactivating_and_deleting_a_user(app, admin, make):
    ids = make.org_chart()
    user = admin.post(
        "/api/users",
        {"name": "Luisa", "email": "luisa@example.com", "role": "agent", "agent_id": ids["luis"]},
    ).json
    token = admin.post(f"/api/users/{user['id']}/tokens", {"name": "t"}).json["token"]
    agent = Api(app.test_client(), token)
    assert agent.get("/api/contacts").status_code == 200
    assert admin.patch(f"/api/users/{user['id']}", {"active": False}).json["active"] is False
    assert agent.get("/api/contacts").status_code == 401
    assert admin.delete(f"/api/users/{user['id']}").status_code == 204
    assert admin.get(f"/api/users/{user['id']}").status_code == 404
    with app.app_context():
        assert (
            db.session.scalars(select(ApiToken).where(ApiToken.user_id == user["id"])).all() == []
        )
    assert [e[0] for e in audit_of(app, user["id"])][-2:] == ["deactivated", "deleted"]


def test_the_cli_issues_a_token_for_an_existing_user(app, make):
    ids = make.org_chart()
    user_id = make.user("sup@example.com", "coordinator")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tokens", "create", "--user-id", str(user_id), "--name", "cli"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    api = Api(app.test_client(), token)
    assert api.get(f"/api/carteras/{ids['premium']}").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(ApiToken.user_id).where(ApiToken.name == "cli")) == user_id
    both = runner.invoke(
        args=["tokens", "create", "--user-id", "1", "--role", "admin", "--name", "x"]
    )
    assert both.exit_code != 0
