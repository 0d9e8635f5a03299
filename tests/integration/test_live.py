"""Live badges over Socket.IO: an agent gets its own carteras' badges, and nobody else's."""

from __future__ import annotations

import threading
import time

import pytest
import socketio
from werkzeug.serving import make_server

from service.app import create_app
from service.extensions import db
from tests.conftest import PG_URL, make_config
from tests.fake_rocketchat import _QuietHandler
from tests.webhooks.conftest import Posting, whatsapp_text


@pytest.fixture
def org(make):
    norte = make.team("Norte", rocketchat_department_id="dep-norte")
    sur = make.team("Sur", rocketchat_department_id="dep-sur")
    luis = make.agent("Luis", [norte], rocketchat_user_id="u-luis")
    pablo = make.agent("Pablo", [sur], rocketchat_user_id="u-pablo")
    premium = make.cartera("Premium", norte, luis, "💎")
    make.contact("Lucía", premium, phones=["+52 55 1234 5678"])
    return {"luis": luis, "pablo": pablo, "norte": norte}


def badges(client):
    return [event["args"][0] for event in client.get_received() if event["name"] == "badge"]


def test_agent_receives_its_badge_and_not_others(app, client, make, org):
    luis = app.extensions["socketio"].test_client(
        app, auth={"token": make.token("agent", "l", org["luis"])}
    )
    pablo = app.extensions["socketio"].test_client(
        app, auth={"token": make.token("agent", "p", org["pablo"])}
    )
    assert luis.is_connected() and pablo.is_connected()
    luis.get_received(), pablo.get_received()  # drop the "ready" events

    Posting(client, app).whatsapp(whatsapp_text("wamid.live", sender="5215512345678"))
    (badge,) = badges(luis)
    assert badge["cartera"]["name"] == "Premium" and badge["cartera"]["icon"] == "💎"
    assert badge["contact"]["name"] == "Lucía" and badge["channel"] == "whatsapp"
    assert badge["routed_to"]["type"] == "agent" and badge["reason"] == "owner_agent"
    assert badges(pablo) == []


@pytest.mark.parametrize("who", ["none", "bad", "coordinator"])
def test_only_agent_tokens_connect(app, make, who):
    token = {"none": None, "bad": "crt_nope", "coordinator": make.token("coordinator")}[who]
    refused = app.extensions["socketio"].test_client(app, auth={"token": token} if token else None)
    assert not refused.is_connected()


def test_a_real_socketio_client_over_http(app, backend, make, org):
    # A fresh app: Flask-SocketIO's test client patches the packet sender of the app it
    # tests, so real clients of that app would never hear back.
    database = f"sqlite:///{backend.file}" if backend.name == "sqlite" else PG_URL
    served = create_app(make_config(database))
    client = served.test_client()
    server = make_server("127.0.0.1", 0, served, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    received: list[dict] = []
    got = threading.Event()
    live = socketio.Client(reconnection=False)

    @live.on("badge")
    def on_badge(data):
        received.append(data)
        got.set()

    try:
        live.connect(
            f"http://127.0.0.1:{server.server_port}",
            auth={"token": make.token("agent", "l", org["luis"])},
            transports=["polling"],
            wait_timeout=5,
        )
        Posting(client, served).whatsapp(whatsapp_text("wamid.http", sender="5215512345678"))
        assert got.wait(5), "no badge arrived"
        assert received[0]["cartera"]["name"] == "Premium"
        with pytest.raises(socketio.exceptions.ConnectionError):
            socketio.Client(reconnection=False).connect(
                f"http://127.0.0.1:{server.server_port}",
                auth={"token": "crt_wrong"},
                transports=["polling"],
                wait_timeout=5,
            )
    finally:
        # abort: a polite disconnect waits for the open long-poll (the 25 s ping interval)
        live.eio.disconnect(abort=True)
        time.sleep(0.05)
        server.shutdown()
        server.server_close()
        with served.app_context():
            db.engine.dispose()
