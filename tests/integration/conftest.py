"""Fixtures for tests that route through a fake Rocket.Chat and watch the live badges."""

from __future__ import annotations

import pytest

from service.adapters.rocketchat import RocketChatClient
from tests.fake_rocketchat import FakeRocketChat
from tests.fakes import FakeLiveBadges


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
def badges(app, monkeypatch):
    fake = FakeLiveBadges()
    monkeypatch.setattr(app.extensions["ports"], "badges", fake)
    return fake
