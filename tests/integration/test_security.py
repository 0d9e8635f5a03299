"""Security properties as tests: secrets stay out of logs, SQL is never built from strings."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

from tests.ui.conftest import Browser

ROOT = Path(__file__).resolve().parents[2]


def test_tokens_and_passwords_never_reach_the_logs(app, client, make, caplog):
    caplog.set_level(logging.DEBUG)
    token = make.token("coordinator", "Carla")
    password = "una-clave-muy-secreta"
    make.user("carla@example.com", "coordinator", password=password)
    client.get("/api/carteras", headers={"Authorization": f"Bearer {token}"})
    client.get("/api/carteras", headers={"Authorization": "Bearer crt_wrong-token-value"})
    browser = Browser(app.test_client())
    browser.submit("/ingresar", data={"email": "carla@example.com", "password": password})
    browser.submit("/ingresar", data={"email": "carla@example.com", "password": "bad-" + password})
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "request" in caplog.text  # the access lines were captured
    for secret in (token, password, "crt_wrong-token-value", token[4:20]):
        assert secret not in logged


def test_access_lines_carry_no_personal_data(app, client, make, caplog):
    caplog.set_level(logging.INFO, logger="carteras.access")
    token = make.token("coordinator", "Carla")
    client.get("/api/contacts?q=%2B525512345678", headers={"Authorization": f"Bearer {token}"})
    (line,) = [r for r in caplog.records if r.name == "carteras.access"]
    assert line.route == "/api/contacts" and "5512345678" not in str(line.__dict__)


def _dynamic_sql(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(
            node.func, "attr", getattr(node.func, "id", "")
        ) in ("text", "exec_driver_sql"):
            argument = node.args[0] if node.args else None
            if argument is not None and not isinstance(argument, ast.Constant):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_sql_is_built_by_the_orm_or_from_constants_only():
    offenders = [
        hit
        for folder in ("service", "webhooks")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
        for hit in _dynamic_sql(path)
    ]
    assert offenders == []
