"""Command-line tools: tokens and the contact import."""

import sqlalchemy as sa

from service.extensions import db
from service.models import ApiToken, AuditEvent


def test_tokens_create_prints_the_token_last_and_stores_only_its_hash(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tokens", "create", "--role", "coordinator", "--name", "Carla"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("crt_") and len(token) > 40
    with app.app_context():
        stored = db.session.scalars(sa.select(ApiToken)).one()
        assert stored.token_hash != token and token not in stored.token_hash
        assert db.session.scalar(sa.select(AuditEvent.event)) == "created"
    response = app.test_client().get("/api/carteras", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_agent_tokens_need_an_existing_agent(app, make):
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["tokens", "create", "--role", "agent", "--name", "x"])
    assert missing.exit_code != 0 and "agent-id" in missing.output
    unknown = runner.invoke(
        args=["tokens", "create", "--role", "agent", "--name", "x", "--agent-id", "99"]
    )
    assert unknown.exit_code != 0 and "no such agent" in unknown.output
    agent = make.agent()
    ok = runner.invoke(
        args=["tokens", "create", "--role", "agent", "--name", "x", "--agent-id", str(agent)]
    )
    assert ok.exit_code == 0


def test_tokens_list_and_revoke(app):
    runner = app.test_cli_runner()
    token = runner.invoke(args=["tokens", "create", "--role", "admin", "--name", "ops"]).output
    token = token.strip().splitlines()[-1]
    listed = runner.invoke(args=["tokens", "list"]).output
    assert "ops" in listed and token not in listed and "active" in listed
    assert runner.invoke(args=["tokens", "revoke", "1"]).exit_code == 0
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output
    assert runner.invoke(args=["tokens", "revoke", "9"]).exit_code != 0


def test_contacts_import_command(app, make, tmp_path):
    make.cartera("Premium", make.team())
    path = tmp_path / "contactos.csv"
    rows = "".join(f"Cliente {i},55 1000 {i:04d},,REF-{i},,Premium\n" for i in range(1200))
    path.write_text("name,phones,emails,external_ref,company,cartera\n" + rows + "Malo,xx,,,,\n")
    result = app.test_cli_runner().invoke(args=["contacts", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "created=1200" in result.output and "rejected=1" in result.output
    assert "row 1202: phones" in result.output
    with app.app_context():
        from service.models import Contact

        assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 1200
    again = app.test_cli_runner().invoke(args=["contacts", "import", str(path)])
    assert "unchanged=1200" in again.output


def test_worker_needs_redis(app):
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code != 0 and "REDIS_URL" in result.output
