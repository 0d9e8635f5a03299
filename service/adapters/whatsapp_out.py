"""Replies through the WhatsApp Cloud API and through Twilio (WhatsApp or SMS)."""

from __future__ import annotations

from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from service.domain.ports import ChannelRejected, ChannelUnavailable, Reply


class WhatsAppCloudSender:
    """``POST {api}/{phone_number_id}/messages`` with the app's access token."""

    def __init__(
        self,
        access_token: str,
        api_url: str = "https://graph.facebook.com/v21.0",
        timeout: float = 10.0,
    ) -> None:
        self.api_url, self.timeout = api_url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"

    def send(self, reply: Reply) -> str:
        if not reply.sender:
            raise ChannelRejected("the conversation has no WhatsApp phone_number_id to send from")
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": reply.to.lstrip("+"),
            "type": "text",
            "text": {"preview_url": False, "body": reply.text},
        }
        try:
            response = self.session.post(
                f"{self.api_url}/{reply.sender}/messages", json=body, timeout=self.timeout
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ChannelUnavailable(f"WhatsApp: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ChannelUnavailable(f"WhatsApp: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ChannelRejected(f"WhatsApp: HTTP {response.status_code} {response.text[:300]}")
        messages = response.json().get("messages") or [{}]
        return str(messages[0].get("id") or "")


class TwilioSender:
    """Twilio's Messages API through the official client (``api_url`` for tests)."""

    def __init__(self, account_sid: str, auth_token: str, api_url: str | None = None) -> None:
        self.client = Client(account_sid, auth_token)
        if api_url:
            self.client.api.base_url = api_url.rstrip("/")

    def send(self, reply: Reply) -> str:
        prefix = "whatsapp:" if reply.channel == "whatsapp" else ""
        sender = reply.sender or ""
        try:
            message = self.client.messages.create(
                from_=sender if sender.startswith(prefix) else prefix + sender,
                to=prefix + reply.to,
                body=reply.text,
            )
        except TwilioRestException as exc:
            if exc.status >= 500 or exc.status == 429:
                raise ChannelUnavailable(f"Twilio: HTTP {exc.status}") from exc
            raise ChannelRejected(f"Twilio: {exc.code} {exc.msg}") from exc
        except (TwilioException, requests.RequestException) as exc:
            raise ChannelUnavailable(f"Twilio: {type(exc).__name__}") from exc
        return str(message.sid)
