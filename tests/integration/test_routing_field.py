"""Routing against what the real Rocket.Chat answers in the field (tests/fake_rocketchat.py
follows its code): lost answers, returning visitors in a department, owners it refuses,
rooms closed under our feet, and the echo of the room-start webhook."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask, request
from werkzeug.serving import make_server

from service.domain.ports import ChatPlatformError
from service.extensions import db
from service.jobs import placement, routing, sweeper
from service.models import Conversation, InboxMessage
from tests import samples
from tests.fake_rocketchat import _QuietHandler
from tests.webhooks.conftest import whatsapp_text

PHONE = "5215512345678"


def conversations(app) -> list[Conversation]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(Conversation).order_by(Conversation.id)))
        db.session.expunge_all()
        return rows


def test_a_message_whose_answer_was_lost_is_not_failed_on_retry(app, rc, post, org):
    rc.lose_answer("livechat/message")  # stored in Rocket.Chat, but we hear a 504
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (row,) = post.rows()
    assert row.status == "failed"  # the embedded queue has no retries: replay it
    app.test_cli_runner().invoke(args=["inbox", "replay", "--all-failed"])
    (row,) = post.rows()
    assert row.status == "processed" and row.rc_message_id == f"carteras-{row.id}"
    (conv,) = conversations(app)
    assert rc.messages_in(conv.rc_room_id) == ["Hola"]  # shown once
    # the repeat was refused as a duplicate, then confirmed by reading the message back
    assert len(rc.calls_to("livechat/message")) == 2
    assert any(path.startswith("livechat/message/carteras-") for _, path, _ in rc.calls)


def test_a_next_message_whose_last_commit_failed_is_shown_once_on_retry(
    app, rc, post, org, monkeypatch
):
    """A next message into a placed conversation is recorded with the job's last commit:
    when that commit fails after the post went through, the retry posts the same id, which
    Rocket.Chat refuses, and the message is read back instead of shown twice."""
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="Hola", timestamp=1763809200))
    from service.domain import ordering

    real_finish, broken = ordering.finish, {"left": 1}

    def finish_once_broken(session, row, now, *conversation):
        if broken["left"]:
            broken["left"] -= 1
            raise sa.exc.OperationalError("UPDATE inbox_messages", {}, Exception("server gone"))
        return real_finish(session, row, now, *conversation)

    monkeypatch.setattr(ordering, "finish", finish_once_broken)
    post.whatsapp(whatsapp_text("wamid.2", sender=PHONE, text="¿Sigue ahí?", timestamp=1763809260))
    first, second = post.rows()
    assert (first.status, second.status) == ("processed", "failed")
    assert second.rc_message_id is None  # its post was not recorded
    app.test_cli_runner().invoke(args=["inbox", "replay", "--all-failed"])
    first, second = post.rows()
    assert second.status == "processed" and second.rc_message_id == f"carteras-{second.id}"
    (conv,) = conversations(app)
    assert rc.messages_in(conv.rc_room_id) == ["Hola", "¿Sigue ahí?"]  # each once


def test_owner_timeout_takes_the_room_back_inside_the_department(
    app, rc, post, coordinator, org, now_clock
):
    # A returning web-widget visitor with this phone already belongs to the Norte
    # department: Rocket.Chat keeps it, so the room opens inside the team's department.
    requests.post(
        f"{rc.url}/api/v1/livechat/visitor",
        json={"visitor": {"token": "widget", "phone": "+525512345678", "department": "Norte"}},
        timeout=5,
    )
    coordinator.patch(f"/api/carteras/{org['premium']}", {"owner_timeout_seconds": 30})
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    room = rc.rooms[conv.rc_room_id]
    assert room["departmentId"] == "dep-norte" and room["servedBy"]["_id"] == "u-luis"
    assert conv.rc_visitor_token == "widget"  # Rocket.Chat's token, not ours
    now_clock.current += timedelta(seconds=31)
    with app.app_context():
        assert sweeper.fallback_overdue() == 1
    (conv,) = conversations(app)
    # a same-department forward would be refused: the room goes back to the team's queue
    assert rc.forwards == []
    assert rc.returned == [{"roomId": conv.rc_room_id, "departmentId": "dep-norte"}]
    assert rc.rooms[conv.rc_room_id]["servedBy"] is None
    assert (conv.routed_to, conv.reason, conv.forwarded_to) == (
        "team",
        "owner_timeout_team",
        "department:dep-norte",
    )


def test_a_refused_same_department_forward_is_never_recorded_as_done(app, rc, post, org):
    rc.set_online("u-luis", False)
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    # Rocket.Chat refuses as same-department, yet the room, read again, is elsewhere: the
    # refusal is not taken for a done step
    rc.rooms[conv.rc_room_id]["departmentId"] = "dep-sur"
    rc.fail("livechat/room.forward", status=400, error="error-forwarding-chat-same-department")
    with app.app_context():
        held = db.session.get(Conversation, conv.id)
        assert held is not None
        held.forwarded_to = None  # as if the step had not run, and the room state unknown
        with pytest.raises(ChatPlatformError):
            placement.place(db.session(), held, None, app.extensions["ports"], datetime.now(UTC))
        assert held.forwarded_to is None  # the refusal is not taken for a done step
        db.session.rollback()
    assert len(rc.calls_to("livechat/room.forward")) == 1


def test_an_owner_deleted_from_rocketchat_routes_to_the_team(app, rc, post, org):
    rc.delete_user("u-luis")
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    assert (conv.routed_to, conv.reason) == ("team", "owner_offline_team")
    assert rc.rooms[conv.rc_room_id]["servedBy"]["_id"] == "u-marta"
    assert post.rows()[0].status == "processed"


def test_an_owner_deactivated_in_rocketchat_routes_to_the_team(app, rc, post, org):
    # Deactivated, yet still shown online: the agent lookup has no `active` field, so only
    # the refused forward tells (Helper.ts: error-user-is-offline).
    rc.users["u-luis"]["active"] = False
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    assert (conv.routed_to, conv.reason) == ("team", "owner_unavailable_team")
    assert conv.forwarded_to == "department:dep-norte"
    assert rc.rooms[conv.rc_room_id]["servedBy"]["_id"] == "u-marta"
    assert conv.trace["events"][-1]["event"] == "owner_unavailable"
    assert post.rows()[0].status == "processed"


def test_a_room_closed_right_after_the_message_ends_the_conversation_cleanly(app, rc, post, org):
    rc.users["u-luis"]["active"] = False  # so a forward is needed after the message

    def close_all() -> None:
        for room_id in list(rc.rooms):
            rc.close_room(room_id)

    rc.after("livechat/message", close_all)
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (row,) = post.rows()
    assert row.status == "processed"
    (conv,) = conversations(app)
    assert conv.status == "closed" and rc.messages_in(conv.rc_room_id) == ["Hola"]
    # the next message opens a new conversation
    rc.users["u-luis"]["active"] = True
    post.whatsapp(whatsapp_text("wamid.2", sender=PHONE, text="sigo aquí"))
    assert [c.status for c in conversations(app)] == ["closed", "open"]


def test_a_room_closed_before_the_owner_timeout_closes_the_conversation(
    app, rc, post, coordinator, org, now_clock
):
    coordinator.patch(f"/api/carteras/{org['premium']}", {"owner_timeout_seconds": 30})
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    rc.close_room(conv.rc_room_id)
    now_clock.current += timedelta(seconds=31)
    with app.app_context():
        assert sweeper.fallback_overdue() == 1
    (conv,) = conversations(app)
    assert conv.status == "closed" and rc.forwards == [] and rc.returned == []


def test_handover_to_an_owner_rocketchat_refuses_goes_to_the_team(app, rc, post, org):
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    rc.set_online("u-marta", False)
    with app.app_context():
        from service.models import Cartera

        cartera = db.session.get(Cartera, org["premium"])
        assert cartera is not None
        cartera.agent_id = org["marta"]
        db.session.commit()
        assert routing.reforward(conv.id) == "reforwarded"
    (conv,) = conversations(app)
    assert (conv.routed_to, conv.forwarded_to) == ("team", "department:dep-norte")
    assert rc.forwards[-1]["departmentId"] == "dep-norte"
    assert conv.trace["events"][-2]["event"] == "owner_unavailable"


@pytest.fixture
def bridge(client) -> Iterator[str]:
    """An HTTP endpoint that hands Rocket.Chat's webhooks to the service under test, so the
    fake's room-start webhook reaches it while the room is being opened, as in production."""
    relay = Flask("bridge")

    @relay.post("/webhooks/rocketchat")
    def forward() -> Any:
        answer = client.post(
            "/webhooks/rocketchat",
            data=request.get_data(),
            content_type="application/json",
            headers={
                "X-RocketChat-Livechat-Token": request.headers.get(
                    "X-RocketChat-Livechat-Token", ""
                )
            },
        )
        return answer.get_data(), answer.status_code

    server = make_server("127.0.0.1", 0, relay, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/webhooks/rocketchat"
    server.shutdown()
    server.server_close()


def test_the_echo_of_our_own_room_start_opens_no_second_conversation(app, rc, post, org, bridge):
    rc.settings.update(
        Livechat_webhookUrl=bridge,
        Livechat_secret_token=samples.ROCKETCHAT_TOKEN,
        Livechat_webhook_on_start=True,
    )
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    assert len(rc.webhooks_sent) == 1  # Rocket.Chat did send it, before answering
    (conv,) = conversations(app)
    assert conv.routed_to == "agent" and len(rc.rooms) == 1
    with app.app_context():
        echo = db.session.scalar(
            sa.select(InboxMessage).where(InboxMessage.provider == "rocketchat")
        )
        assert echo is not None and echo.conversation_id is None
        assert echo.status in {"processed", "ignored"}


@pytest.fixture
def patient(app, rc, monkeypatch):
    """The chat port waiting only 0.2 s when no agent is online (30 s by default)."""
    from service.adapters.rocketchat import RocketChatClient

    client = RocketChatClient(rc.url, rc.user_id, rc.auth_token, timeout=5, no_agent_wait=0.2)
    monkeypatch.setattr(app.extensions["ports"], "chat", client)
    return client


def test_no_agent_online_is_a_wait_not_a_failure(app, rc, post, org, coordinator, patient):
    rc.set_online("u-luis", False)
    rc.set_online("u-marta", False)
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (row,) = post.rows()
    assert row.status == "waiting" and row.attempts == 0  # no try used up
    assert "no-agent-online" in row.last_error and row.not_before is not None
    listed = coordinator.get("/api/inbox?status=waiting").json["items"]
    assert [(r["id"], r["not_before"] is not None) for r in listed] == [(row.id, True)]
    assert rc.rooms == {} and rc.messages == []
    with app.app_context():
        assert sweeper.requeue_stale()[0] == 0  # not before its time
    rc.set_online("u-marta", True)
    import time

    time.sleep(0.3)
    with app.app_context():
        sweeper.sweep()
    (row,) = post.rows()
    assert row.status == "processed" and row.not_before is None
    (conv,) = conversations(app)
    assert conv.routed_to == "team" and rc.messages_in(conv.rc_room_id) == ["Hola"]


def test_rocketchats_rate_limit_is_a_wait_until_the_time_it_gives(app, rc, post, make, org):
    rc.settings["API_Enable_Rate_Limiter"] = True
    clock_now = [rc.clock()]
    rc.clock = lambda: clock_now[0]
    premium = org["premium"]
    for n in range(6):  # six new customers in a minute: livechat/visitor allows five
        make.contact(f"Cliente {n}", premium, phones=[f"+52 55 1234 560{n}"])
        post.whatsapp(whatsapp_text(f"wamid.{n}", sender=f"52155123456 0{n}".replace(" ", "")))
    rows = post.rows()
    assert [r.status for r in rows] == ["processed"] * 5 + ["waiting"]
    late = rows[-1]
    assert "error-too-many-requests" in late.last_error and late.attempts == 0
    reset = datetime.fromtimestamp(clock_now[0] + 60, UTC)
    assert abs((late.not_before - reset).total_seconds()) < 2  # X-RateLimit-Reset
    clock_now[0] += 61  # the window is over in Rocket.Chat; let the wait be over here too
    with app.app_context():
        held = db.session.get(InboxMessage, late.id)
        assert held is not None
        held.not_before = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
        sweeper.sweep()
    assert post.rows()[-1].status == "processed"
    assert len(rc.messages) == 6 and len(rc.rooms) == 6


def test_a_forward_whose_answer_was_lost_is_not_failed_by_the_retry(
    app, rc, post, coordinator, org, now_clock, monkeypatch
):
    from service.adapters.rocketchat import RocketChatClient

    quick = RocketChatClient(rc.url, rc.user_id, rc.auth_token, timeout=5, quick_retries=1)
    monkeypatch.setattr(app.extensions["ports"], "chat", quick)
    coordinator.patch(f"/api/carteras/{org['premium']}", {"owner_timeout_seconds": 30})
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    rc.lose_answer("livechat/room.forward")  # moved to the department, but we hear a 504
    now_clock.current += timedelta(seconds=31)
    with app.app_context():
        assert sweeper.fallback_overdue() == 1
    (conv,) = conversations(app)
    # the quick retry was refused as same-department; the room, read again, is placed
    assert len(rc.calls_to("livechat/room.forward")) == 2 and len(rc.forwards) == 1
    assert rc.rooms[conv.rc_room_id]["departmentId"] == "dep-norte"
    assert (conv.routed_to, conv.forwarded_to) == ("team", "department:dep-norte")
