"""Fixtures for tests that route through a fake Rocket.Chat and watch the live badges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.adapters.rocketchat import RocketChatClient
from service.adapters.whatsapp_out import WhatsAppCloudSender
from tests.fake_channels import FakeWhatsApp
from tests.fake_rocketchat import FakeRocketChat
from tests.fakes import FakeLiveBadges
from tests.webhooks.conftest import FixedClock, Posting


@pytest.fixture
def rc(app, monkeypatch):
    """A fake Rocket.Chat over HTTP set up as the README says (API rate limiter off), with
    Luis and Marta online in the Norte department and an empty Sur department, wired in as the
    chat port."""
    with FakeRocketChat(API_Enable_Rate_Limiter=False) as fake:
        client = RocketChatClient(fake.url, fake.user_id, fake.auth_token, timeout=5)
        monkeypatch.setattr(app.extensions["ports"], "chat", client)
        fake.add_agent("u-luis", "luis", online=True)
        fake.add_agent("u-marta", "marta", online=True)
        fake.add_department("dep-norte", "Norte", agents=["u-luis", "u-marta"])
        fake.add_department("dep-sur", "Sur")
        fake.add_custom_field("cartera", "Cartera", scope="room")
        yield fake


@pytest.fixture
def now_clock(app, monkeypatch):
    """A clock the test moves forward (owner timeouts)."""
    clock = FixedClock(datetime.now(UTC))
    monkeypatch.setattr(app.extensions["ports"], "clock", clock)
    return clock


@pytest.fixture
def post(client, app):
    return Posting(client, app)


@pytest.fixture
def org(make):
    """The Norte team (department dep-norte) with Luis and Marta; Luis owns Premium, which
    holds Lucía (+52 55 1234 5678)."""
    team = make.team("Norte", rocketchat_department_id="dep-norte")
    luis = make.agent("Luis", [team], rocketchat_user_id="u-luis", rocketchat_username="luis")
    marta = make.agent("Marta", [team], rocketchat_user_id="u-marta", rocketchat_username="marta")
    premium = make.cartera("Premium", team, luis, "💎", color="#1E88E5")
    contact = make.contact("Lucía", premium, phones=["+52 55 1234 5678"])
    return {"team": team, "luis": luis, "marta": marta, "premium": premium, "contact": contact}


@pytest.fixture
def whatsapp(app, monkeypatch):
    """A fake WhatsApp Cloud API, wired in as the sender of replies."""
    with FakeWhatsApp() as fake:
        sender = WhatsAppCloudSender(FakeWhatsApp.TOKEN, f"{fake.url}/v21.0", timeout=5)
        monkeypatch.setitem(app.extensions["ports"].senders, "meta", sender)
        yield fake


@pytest.fixture
def badges(app, monkeypatch):
    fake = FakeLiveBadges()
    monkeypatch.setattr(app.extensions["ports"], "badges", fake)
    return fake
