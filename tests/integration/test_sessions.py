"""Access ends everywhere at once: an inactive agent or user, a revoked token, a signed-out or
re-passworded session lose the API, the pages, the exports and their live connections."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from service.api.live import RECHECK_SECONDS, connections
from service.domain import tokens, users
from service.domain.actor import system_actor
from service.domain.errors import Invalid
from service.extensions import db
from service.models import Agent, ApiToken, AuditEvent, User
from tests.conftest import Api
from tests.ui.conftest import PASSWORD, Browser

ADMIN = system_actor("tests")


def agent_user(app, make, ids, who="luis"):
    """Luis signed in to the pages and holding an API token; his user id."""
    email = f"{who}@example.com"
    user_id = make.user(email, "agent", ids[who])
    browser = Browser(app.test_client())
    signed_in = browser.submit("/ingresar", data={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 302
    api = Api(app.test_client(), make.token("agent", f"{who}-token", ids[who]))
    return browser, api, user_id


def can_read(browser, api):
    """What each edge answers: the API list and export, the pages' list and export."""
    return {
        "api": api.get("/api/contacts").status_code,
        "api_export": api.get("/api/contacts/export").status_code,
        "page": browser.get("/contactos").status_code,
        "page_export": browser.get("/contactos/exportar").status_code,
    }


ALLOWED = {"api": 200, "api_export": 200, "page": 200, "page_export": 200}
REFUSED = {"api": 401, "api_export": 401, "page": 302, "page_export": 302}


def live_client(app, token=None, browser=None):
    socketio = app.extensions["socketio"]
    if browser is not None:
        return socketio.test_client(app, flask_test_client=browser.client)
    return socketio.test_client(app, auth={"token": token})


def test_deactivating_an_agent_ends_its_tokens_sessions_exports_and_live(app, make, coordinator):
    ids = make.org_chart()
    browser, api, _ = agent_user(app, make, ids)
    by_token, by_session = live_client(app, api.token), live_client(app, browser=browser)
    assert can_read(browser, api) == ALLOWED
    assert by_token.is_connected() and by_session.is_connected()
    # ana (Premium), beto (Compartida), dani and eva (no cartera)
    assert api.get("/api/contacts").json["total"] == 4

    assert coordinator.patch(f"/api/agents/{ids['luis']}", {"active": False}).status_code == 200

    assert can_read(browser, api) == REFUSED
    assert not by_token.is_connected() and not by_session.is_connected()
    assert len(connections(app)) == 0
    # a new token cannot be issued for it, and reactivating it does not revive old sessions
    with app.app_context(), pytest.raises(Invalid, match="inactive"):
        tokens.issue_token(db.session(), ADMIN, name="x", role="agent", agent_id=ids["luis"])
    coordinator.patch(f"/api/agents/{ids['luis']}", {"active": True})
    assert browser.get("/contactos").status_code == 302
    assert api.get("/api/contacts").status_code == 200  # tokens are not sessions


def test_a_handover_that_deactivates_the_agent_ends_its_access(app, make, coordinator):
    ids = make.org_chart()
    browser, api, _ = agent_user(app, make, ids)
    live = live_client(app, api.token)
    assert can_read(browser, api) == ALLOWED and live.is_connected()
    handed = coordinator.post(
        f"/api/agents/{ids['luis']}/handover",
        {"to_agent_id": ids["marta"], "deactivate_agent": True},
    )
    assert handed.status_code == 200
    assert can_read(browser, api) == REFUSED
    assert not live.is_connected()


def test_actor_for_is_the_one_rule():
    def user(active=True, role="agent", agent=None, agent_id=7):
        return User(id=3, name="Luis", role=role, active=active, agent=agent, agent_id=agent_id)

    working, resting = Agent(id=7, name="Luis", active=True), Agent(id=7, active=False)
    assert users.actor_for(user(agent=working)).agent_id == 7
    assert users.actor_for(user(agent=resting)) is None
    assert users.actor_for(user(agent=None)) is None  # its agent is gone
    assert users.actor_for(user(active=False, agent=working)) is None
    assert users.actor_for(user(role="coordinator", agent_id=None)).is_manager
    assert users.actor_for(None) is None


def test_deactivating_a_user_ends_its_sessions_and_tokens(app, make):
    ids = make.org_chart()
    browser, _, user_id = agent_user(app, make, ids)
    live = live_client(app, browser=browser)
    assert browser.get("/contactos").status_code == 200 and live.is_connected()
    result = app.test_cli_runner().invoke(args=["users", "deactivate", "luis@example.com"])
    assert result.exit_code == 0, result.output
    assert browser.get("/contactos").status_code == 302
    # the command line is another process: the live process notices at its next re-check
    assert live.is_connected()
    assert connections(app).recheck() == 1 and not live.is_connected()
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.resource_type == "user")
        ).all()[-1]
        assert (event.event, event.resource_id, event.after) == (
            "deactivated",
            user_id,
            {"active": False},
        )
    # signing in again is refused too
    again = Browser(app.test_client()).submit(
        "/ingresar", data={"email": "luis@example.com", "password": PASSWORD}
    )
    assert again.status_code == 200 and "incorrectos" in again.get_data(as_text=True)


def test_signing_out_ends_every_session_of_the_user(app, make):
    make.user("ana@example.com", "coordinator")
    first, second = Browser(app.test_client()), Browser(app.test_client())
    for browser in (first, second):
        browser.submit("/ingresar", data={"email": "ana@example.com", "password": PASSWORD})
        assert browser.get("/carteras").status_code == 200
    # a copy of the first session cookie, kept by someone who stole it
    stolen = app.test_client()
    cookie = first.client.get_cookie("session")
    stolen.set_cookie("session", cookie.value)
    assert stolen.get("/carteras").status_code == 200

    first.submit("/carteras", action="/salir")

    for client in (first.client, second.client, stolen):
        assert client.get("/carteras").status_code == 302
    with app.app_context():
        version = db.session.scalar(sa.select(User.session_version))
        assert version == 1


def test_signing_out_ends_the_live_connection_of_the_session(app, make):
    ids = make.org_chart()
    browser, _, _ = agent_user(app, make, ids)
    live = live_client(app, browser=browser)
    assert live.is_connected()
    browser.submit("/agente", action="/salir")
    assert not live.is_connected()


def test_a_new_password_ends_the_sessions(app, make):
    make.user("ana@example.com", "coordinator")
    browser = Browser(app.test_client())
    browser.submit("/ingresar", data={"email": "ana@example.com", "password": PASSWORD})
    assert browser.get("/carteras").status_code == 200
    result = app.test_cli_runner().invoke(
        args=["users", "set-password", "ana@example.com", "--password", "otra-clave-larga"]
    )
    assert result.exit_code == 0, result.output
    assert browser.get("/carteras").status_code == 302
    fresh = Browser(app.test_client())
    ok = fresh.submit(
        "/ingresar", data={"email": "ana@example.com", "password": "otra-clave-larga"}
    )
    assert ok.status_code == 302
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()[-1]
        assert event.event == "updated" and event.after == {"password": "changed"}
        assert "otra-clave" not in str(event.before) + str(event.after)


def test_revoking_a_token_ends_its_api_access_and_live_connection(app, make):
    ids = make.org_chart()
    token = make.token("agent", "luis-token", ids["luis"])
    live = live_client(app, token)
    assert live.is_connected()
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))
        user_id = db.session.scalar(sa.select(ApiToken.user_id))
        tokens.revoke_token(db.session(), ADMIN, token_id)
        db.session.commit()
        assert db.session.get(User, user_id).session_version == 1
    assert Api(app.test_client(), token).get("/api/contacts").status_code == 401
    assert connections(app).recheck() == 1
    assert not live.is_connected()


def test_live_rooms_follow_team_changes(app, make, coordinator):
    ids = make.org_chart()
    live = live_client(app, make.token("agent", "marta-token", ids["marta"]))
    (ready,) = [e for e in live.get_received() if e["name"] == "ready"]
    assert ready["args"][0]["rooms"] == [
        f"agent:{ids['marta']}",
        f"cartera:{ids['compartida']}",  # her team's shared cartera, not Luis's own
        f"team:{ids['norte']}",
    ]
    coordinator.patch(f"/api/agents/{ids['marta']}", {"team_ids": [ids["sur"]]})
    app.extensions["socketio"].emit("badge", {"n": 1}, to=f"team:{ids['norte']}")
    app.extensions["socketio"].emit("badge", {"n": 2}, to=f"team:{ids['sur']}")
    assert [e["args"][0]["n"] for e in live.get_received() if e["name"] == "badge"] == [2]


def test_the_periodic_recheck_disconnects_without_any_request(app, make):
    ids = make.org_chart()
    registry = connections(app)
    registry.set_interval(0.05)
    try:
        token = make.token("agent", "luis-token", ids["luis"])
        live = live_client(app, token)
        assert live.is_connected()
        with app.app_context():  # as the command line would: no request, no hook
            tokens.revoke_token(db.session(), ADMIN, db.session.scalar(sa.select(ApiToken.id)))
            db.session.commit()
        deadline = time.monotonic() + 5
        while live.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not live.is_connected()
    finally:
        registry.set_interval(RECHECK_SECONDS)


@pytest.mark.parametrize(
    "how",
    [
        lambda token: {"auth": {"token": token}},
        lambda token: {"headers": {"Authorization": f"Bearer {token}"}},
    ],
    ids=["auth-payload", "authorization-header"],
)
def test_live_takes_the_token_where_the_api_does(app, make, how):
    ids = make.org_chart()
    token = make.token("agent", "luis-token", ids["luis"])
    live = app.extensions["socketio"].test_client(app, **how(token))
    assert live.is_connected()


def test_live_ignores_a_token_in_the_query_string(app, make):
    ids = make.org_chart()
    token = make.token("agent", "luis-token", ids["luis"])
    live = app.extensions["socketio"].test_client(app, query_string=f"token={token}")
    assert not live.is_connected()
