"""Schemathesis against our own /openapi.json: every /api operation, with a coordinator
token, must answer without a 5xx and in the shape its own schema declares."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from service.extensions import db

EXAMPLES = 20
# No 5xx, and every answer in the shape its schema declares. (Not "positive data accepted":
# a schema-valid body may still name a team that does not exist, and 422 is right then.)
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.content_type_conformance,
]


def test_every_api_operation_survives_generated_input(app, make):
    team = make.team("Norte", rocketchat_department_id="dep-norte")
    agent = make.agent("Luis", [team])
    cartera = make.cartera("Premium", team, agent, "💎")
    make.contact("Ana", cartera, phones=["+52 55 1111 1111"])
    token = make.token("coordinator", "fuzzer")
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex="^/api/")
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tried.append(operation.label)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            try:
                case.call_and_validate(checks=CHECKS)
            finally:
                with app.app_context():
                    db.session.remove()

        exercise()
    assert len(tried) >= 30, tried
