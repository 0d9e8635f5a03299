"""``rocketchat check`` / ``/readyz?deep=1`` and ``rocketchat sync`` / ``POST
/api/rocketchat/sync`` against the fake Rocket.Chat over HTTP, on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.extensions import db
from service.models import Agent, AuditEvent, Team
from tests import samples

BASE = "https://carteras.example.com"
ROUTING_TOKEN = "routing-secret"


@pytest.fixture
def configured(app, monkeypatch):
    """This service's side: PUBLIC_BASE_URL, the webhook token and a routing token."""
    config = app.config["CARTERAS"].with_overrides(
        public_base_url=BASE, rocketchat_routing_token=ROUTING_TOKEN
    )
    monkeypatch.setitem(app.config, "CARTERAS", config)
    return config


def set_up_well(rc):
    rc.permissions.add("view-privileged-setting")
    rc.settings.update(
        Livechat_accept_chats_with_no_agents=True,
        Livechat_Routing_Method="External",
        Livechat_External_Queue_URL=f"{BASE}/routing/rocketchat",
        Livechat_External_Queue_Token=ROUTING_TOKEN,
        Livechat_webhookUrl=f"{BASE}/webhooks/rocketchat",
        Livechat_secret_token=samples.ROCKETCHAT_TOKEN,
        Livechat_webhook_on_start=True,
        Livechat_webhook_on_close=True,
        Livechat_webhook_on_agent_message=True,
        Livechat_webhook_on_visitor_message=True,
    )
    rc.add_custom_field("cartera", "Cartera", scope="room")  # as the rc fixture has it


@pytest.fixture
def org(make):
    norte = make.team("Norte", rocketchat_department_id="dep-norte")
    luis = make.agent("Luis", [norte], rocketchat_user_id="u-luis", rocketchat_username="luis")
    return {"norte": norte, "luis": luis}


def run(app, *args):
    return app.test_cli_runner().invoke(args=["rocketchat", *args])


def lines_with(output, mark):
    return [line for line in output.splitlines() if line.startswith(mark)]


def test_check_passes_on_a_well_configured_server(app, rc, configured, org):
    set_up_well(rc)
    result = run(app, "check")
    assert result.exit_code == 0, result.output
    assert lines_with(result.output, "✗") == []
    assert "✓ Rocket.Chat 7.4 responde / Rocket.Chat 7.4 answers" in result.output
    assert "✓ Permiso 'transfer-livechat-guest' / Permission 'transfer-livechat-guest'" in (
        result.output
    )
    assert "✓ Agente 'Luis' (luis)" in result.output
    assert "✓ Límite de la API desactivado / API rate limiter off" in result.output


def test_check_names_every_problem_of_a_misconfigured_server(app, rc, configured, org, make):
    rc.permissions -= {"save-others-livechat-room-info", "api-bypass-rate-limit"}
    rc.permissions.add("view-privileged-setting")
    rc.settings.update(
        API_Enable_Rate_Limiter=True,
        Livechat_Routing_Method="External",
        Livechat_External_Queue_URL="https://elsewhere.example.com/queue",
        Livechat_External_Queue_Token="wrong",
        Livechat_webhookUrl="https://elsewhere.example.com/hook",
        Livechat_secret_token="wrong",
        Livechat_webhook_on_start=True,
    )
    rc.custom_fields.clear()
    rc.add_department("dep-sur", "Sur", enabled=False)
    sur = make.team("Sur", rocketchat_department_id="dep-sur")
    make.team("Fantasma", rocketchat_department_id="dep-gone")
    rc.add_agent("u-marta", "marta")  # an agent, but in no department
    make.agent("Marta", [sur], rocketchat_user_id="u-marta", rocketchat_username="marta")
    make.agent("Pablo", [], rocketchat_user_id="u-gone")
    rc.add_agent("u-rosa", "rosa", active=False)
    make.agent("Rosa", [], rocketchat_user_id="u-rosa")
    rc.add_agent("u-ivan", "ivan", agent=False)
    make.agent("Iván", [], rocketchat_user_id="u-ivan")

    result = run(app, "check")

    assert result.exit_code == 1, result.output
    failures = "\n".join(lines_with(result.output, "✗"))
    for expected in (
        "Permiso 'save-others-livechat-room-info' falta al rol del bot",
        "Missing permission 'save-others-livechat-room-info'",
        "Administración > Permisos",
        f"debe ser '{BASE}/routing/rocketchat'",
        "no es ROCKETCHAT_ROUTING_TOKEN",
        f"must be '{BASE}/webhooks/rocketchat'",
        "not ROCKETCHAT_WEBHOOK_TOKEN",
        "Falta el campo personalizado 'cartera'",
        "Send request on chat close",
        "Send request on agent messages",
        "Department 'Sur' of team 'Sur' is disabled",
        "Department 'dep-gone' of team 'Fantasma' does not exist",
        "User 'u-gone' of agent 'Pablo' does not exist",
        "User 'rosa' (Rosa) is deactivated",
        "'ivan' (Iván) is not an Omnichannel agent",
        "'marta' (Marta) is not in its team's department Sur",
    ):
        assert expected in failures, expected
    assert "Send request on chat start" not in failures
    warnings = "\n".join(lines_with(result.output, "⚠"))
    assert "about 2 new conversations a minute" in warnings
    assert "'Aceptar sin agentes en línea' está desactivado" in warnings
    assert "Permission 'api-bypass-rate-limit' missing" in warnings
    assert "Send request on visitor messages" in warnings


def test_settings_the_bot_cannot_read_are_warnings_to_check_by_hand(app, rc, configured, org):
    set_up_well(rc)
    rc.permissions.discard("view-privileged-setting")
    result = run(app, "check")
    assert result.exit_code == 0, result.output
    warnings = "\n".join(lines_with(result.output, "⚠"))
    assert "Could not read setting Livechat_webhookUrl" in warnings
    # Livechat_Routing_Method is public (settings.public): still read.
    assert "✓ Enrutamiento: Servicio externo" in result.output


def test_check_fails_when_rocketchat_is_down_or_unconfigured(app, rc, configured):
    rc.down = True
    result = run(app, "check")
    assert result.exit_code == 1
    assert lines_with(result.output, "✗")[0].startswith("✗ Rocket.Chat no responde")


@pytest.mark.parametrize("version", ["7.4.1", "7.11.0"])
def test_fix_creates_the_custom_field(app, rc, configured, org, version):
    set_up_well(rc)
    rc.custom_fields.clear()
    rc.version = version
    result = run(app, "check", "--fix")
    assert result.exit_code == 0, result.output
    assert rc.custom_fields["cartera"]["scope"] == "room"
    assert rc.custom_fields["cartera"]["visibility"] == "visible"
    used = "livechat/custom-fields.save" if version == "7.11.0" else "method.call/"
    assert any(path.startswith(used) for _, path, _ in rc.calls)


def test_readyz_deep_runs_the_check_for_admins_only(
    app, client, rc, configured, org, admin, coordinator
):
    set_up_well(rc)
    assert client.get("/readyz?deep=1").status_code == 401
    assert coordinator.get("/readyz?deep=1").status_code == 403
    plain = client.get("/readyz")
    assert plain.status_code == 200 and "rocketchat" not in plain.json["checks"]
    deep = admin.get("/readyz?deep=1")
    assert deep.status_code == 200, deep.json
    assert deep.json["checks"]["rocketchat"]["status"] in ("ok", "warn")
    rc.settings["Livechat_webhook_on_close"] = False
    broken = admin.get("/readyz?deep=1")
    assert broken.status_code == 503
    (failure,) = [c for c in broken.json["checks"]["rocketchat"]["checks"] if c["status"] == "fail"]
    assert failure["key"] == "setting:Livechat_webhook_on_close"


# ---- sync --------------------------------------------------------------------------------
def snapshot(app):
    with app.app_context():
        teams = {t.rocketchat_department_id: t.name for t in db.session.scalars(sa.select(Team))}
        agents = {
            a.rocketchat_user_id: (
                a.name,
                a.rocketchat_username,
                a.email,
                a.active,
                sorted(t.name for t in a.teams),
            )
            for a in db.session.scalars(sa.select(Agent))
        }
        audits = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        db.session.rollback()
        return teams, agents, audits


def test_sync_creates_updates_and_deactivates_and_a_second_run_changes_nothing(app, rc, make):
    # ours: Norte linked under an old name, a hand-made "Sur" team, an agent gone from RC
    make.team("Norte viejo", rocketchat_department_id="dep-norte")
    make.team("Sur")
    make.agent("Pablo", [], rocketchat_user_id="u-pablo")
    rc.add_agent("u-rosa", "rosa", name="Rosa Díaz", email="Rosa@Example.com")
    rc.departments["dep-sur"]["agents"].add("u-rosa")
    rc.add_department("dep-este", "Este", agents=["u-luis"])

    first = run(app, "sync")
    assert first.exit_code == 0, first.output

    teams, agents, _ = snapshot(app)
    assert teams == {"dep-norte": "Norte", "dep-sur": "Sur", "dep-este": "Este"}
    assert agents["u-luis"] == ("luis", "luis", "luis@example.com", True, ["Este", "Norte"])
    assert agents["u-marta"][4] == ["Norte"]
    assert agents["u-rosa"] == ("Rosa Díaz", "rosa", "rosa@example.com", True, ["Sur"])
    assert agents["u-pablo"][3] is False  # gone from Rocket.Chat: inactive, not deleted
    assert "deactivated: agent" in first.output and "created=" in first.output

    before = snapshot(app)
    second = run(app, "sync")
    assert second.exit_code == 0, second.output
    assert "created=0 updated=0 deactivated=0" in second.output
    assert snapshot(app) == before  # nothing changed, not even the audit log


def test_sync_changes_are_audited(app, rc):
    run(app, "sync")
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.event, AuditEvent.resource_type, AuditEvent.actor_name)
        ).all()
        db.session.rollback()
    assert ("created", "team", "cli:rocketchat") in events
    assert ("created", "agent", "cli:rocketchat") in events


def test_api_sync_dry_run_changes_nothing_and_the_real_run_does(app, rc, admin):
    before = snapshot(app)
    dry = admin.post("/api/rocketchat/sync?dry_run=true")
    assert dry.status_code == 200, dry.json
    assert dry.json["dry_run"] is True
    assert sorted(c["name"] for c in dry.json["created"]) == ["Norte", "Sur", "luis", "marta"]
    assert snapshot(app) == before

    real = admin.post("/api/rocketchat/sync")
    assert real.status_code == 200
    assert [c["name"] for c in real.json["created"]] == [c["name"] for c in dry.json["created"]]
    assert snapshot(app)[0] == {"dep-norte": "Norte", "dep-sur": "Sur"}
    again = admin.post("/api/rocketchat/sync").json
    assert again["created"] == again["updated"] == again["deactivated"] == []


def test_api_sync_is_for_admins_only(app, rc, coordinator, as_agent, make, client):
    before = snapshot(app)
    luis = make.agent("Luis")
    assert coordinator.post("/api/rocketchat/sync").status_code == 403
    response = as_agent(luis).post("/api/rocketchat/sync")
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert client.post("/api/rocketchat/sync").status_code == 401
    assert rc.calls_to("livechat/department") == []
    assert snapshot(app)[0] == before[0]


def test_sync_refuses_without_rocketchat(app, admin):
    # the recording stand-in knows no agents: syncing with it would deactivate everyone
    response = admin.post("/api/rocketchat/sync")
    assert response.status_code == 422
    assert "not configured" in response.json["error"]["message"]


def test_sync_reports_rocketchat_refusals(app, rc, admin):
    rc.permissions.discard("transfer-livechat-guest")
    response = admin.post("/api/rocketchat/sync")
    assert response.status_code == 502
    assert snapshot(app)[0] == {}
