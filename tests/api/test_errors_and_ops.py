"""Bad input answers the documented JSON error; operations endpoints; the OpenAPI document."""

import logging
import re

import pytest

CONTRACT_PATHS = [
    "/api/teams",
    "/api/teams/{team_id}",
    "/api/agents",
    "/api/agents/{agent_id}",
    "/api/carteras",
    "/api/carteras/{cartera_id}",
    "/api/carteras/{cartera_id}/activate",
    "/api/carteras/{cartera_id}/deactivate",
    "/api/carteras/{cartera_id}/contacts",
    "/api/carteras/{cartera_id}/contacts/{contact_id}",
    "/api/contacts",
    "/api/contacts/{contact_id}",
    "/api/contacts/import",
    "/api/contacts/export",
    "/api/audit",
    "/healthz",
    "/readyz",
]


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error


def test_malformed_json_is_400(coordinator):
    response = coordinator.post(
        "/api/teams", data=b'{"name": ', content_type="application/json", json=None
    )
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "text/csv"]
)
def test_wrong_content_type_is_415(coordinator, content_type):
    response = coordinator.post("/api/teams", data=b"name=x", content_type=content_type, json=None)
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": 7}, "name"),
        ({"name": "X", "colour": "red"}, "colour"),
        ([], "_schema"),
        ({"name": None}, "name"),
    ],
)
def test_wrong_shapes_are_422_naming_the_field(coordinator, payload, field):
    error = assert_error(coordinator.post("/api/teams", payload), 422, "validation_error")
    assert field in error["details"]["fields"]


def test_wrong_query_types_are_422(coordinator):
    error = assert_error(coordinator.get("/api/carteras?team_id=abc"), 422, "validation_error")
    assert "team_id" in error["details"]["fields"]


def test_unknown_route_and_method(coordinator):
    assert_error(coordinator.get("/api/planets"), 404, "not_found")
    response = coordinator.client.put(
        "/api/teams", headers={"Authorization": f"Bearer {coordinator.token}"}
    )
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_body_over_the_limit_is_413(coordinator, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 50)
    assert_error(coordinator.post("/api/teams", {"name": "x" * 100}), 413, "payload_too_large")


def test_request_id_is_always_made_by_the_server(client, caplog):
    caplog.set_level(logging.INFO, logger="carteras.access")
    first = client.get("/healthz", headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"]
    second = client.get("/healthz", headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"]
    unsafe = client.get("/healthz", headers={"X-Request-ID": "bad id; <script>"})
    ours = [first, second, unsafe.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ours) and len(set(ours)) == 3
    # the client's id is logged apart, and only when its shape is safe
    lines = [r for r in caplog.records if r.name == "carteras.access"]
    assert [r.client_request_id for r in lines] == ["abc-1", "abc-1", None]
    assert [r.request_id for r in lines] == ours


def test_health_and_readiness(client):
    assert client.get("/healthz").json["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"]["database"] == "ok"


def test_readiness_fails_when_the_database_is_gone(tmp_path):
    from service.app import create_app
    from tests.conftest import make_config

    app = create_app(make_config(f"sqlite:///{tmp_path}/missing/dir/db.sqlite"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "unreachable"


def test_openapi_is_generated_from_the_code(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert set(CONTRACT_PATHS) <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    cartera = spec["components"]["schemas"]["CarteraOut"]["properties"]
    assert {"name", "icon", "color", "team_id", "agent_id", "active", "contact_count"} <= set(
        cartera
    )
    assert spec["paths"]["/healthz"]["get"]["security"] == []


def test_docs_page_is_served_without_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in html and "//cdn" not in html
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    asset.close()


def test_metrics_are_prometheus_text_with_queue_gauges(client, make):
    make.cartera("Premium", make.team())
    client.get("/healthz")
    body = client.get("/metrics")
    assert body.status_code == 200 and body.mimetype == "text/plain"
    text = body.get_data(as_text=True)
    assert "carteras_active_carteras 1.0" in text
    assert 'carteras_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "# TYPE carteras_inbox_messages gauge" in text
