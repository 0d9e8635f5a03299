"""Replies through the WhatsApp Cloud API and through Twilio (WhatsApp or SMS): text, files
and (Cloud API) approved templates."""

from __future__ import annotations

from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from service.domain.media import whatsapp_kind
from service.domain.ports import (
    ChannelRejected,
    ChannelUnavailable,
    MediaRejected,
    Reply,
    WindowClosed,
)

# Graph API error codes (WhatsApp Cloud API "Error codes"): the closed 24-hour window, and
# the refusals of a file (131053 media upload error; 131052 media download error).
RE_ENGAGEMENT = 131047
MEDIA_ERRORS = frozenset({131052, 131053})
THROTTLED = frozenset({4, 80007, 130429, 131048, 131056})
# Twilio: 63016 "Outside messaging window"; 11200/12300/21620/63019 a media the API refused.
TWILIO_WINDOW = 63016
TWILIO_MEDIA = frozenset({11200, 12300, 21620, 63019})


class WhatsAppCloudSender:
    """``POST {api}/{phone_number_id}/messages`` with the app's access token; a file is first
    uploaded to ``{phone_number_id}/media`` and sent by its id."""

    def __init__(
        self,
        access_token: str,
        api_url: str = "https://graph.facebook.com/v21.0",
        timeout: float = 10.0,
        upload_timeout: float = 120.0,
    ) -> None:
        self.api_url, self.timeout, self.upload_timeout = (
            api_url.rstrip("/"),
            timeout,
            upload_timeout,
        )
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"

    def send(self, reply: Reply) -> str:
        if not reply.sender:
            raise ChannelRejected("the conversation has no WhatsApp phone_number_id to send from")
        to = reply.to.lstrip("+")
        if reply.template is not None:
            template: dict[str, Any] = {
                "name": reply.template.name,
                "language": {"code": reply.template.language},
            }
            if reply.template.parameters:
                template["components"] = [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": p} for p in reply.template.parameters
                        ],
                    }
                ]
            return self._message(reply.sender, to, "template", template)
        if reply.media is None:
            return self._message(reply.sender, to, "text", _text(reply.text))
        kind = whatsapp_kind(reply.media.content_type)
        media_id = self._upload(reply.sender, reply.media.path, reply.media)
        content: dict[str, Any] = {"id": media_id}
        if kind == "document":
            content["filename"] = reply.media.name
        if reply.text and kind == "audio":
            # audio takes no caption: the agent's words go first, as their own message
            self._message(reply.sender, to, "text", _text(reply.text))
        elif reply.text:
            content["caption"] = reply.text
        return self._message(reply.sender, to, kind, content)

    def _upload(self, sender: str, path: str | None, media: Any) -> str:
        """POST /{phone_number_id}/media, multipart: messaging_product, type, file."""
        if not path:
            raise ChannelRejected("WhatsApp: the file to upload is missing")
        with open(path, "rb") as handle:
            answer = self._post(
                f"{self.api_url}/{sender}/media",
                data={"messaging_product": "whatsapp", "type": media.content_type},
                files={"file": (media.name, handle, media.content_type)},
                timeout=self.upload_timeout,
            )
        media_id = answer.get("id")
        if not media_id:
            raise ChannelUnavailable("WhatsApp: the upload answered without a media id")
        return str(media_id)

    def _message(self, sender: str, to: str, kind: str, content: dict[str, Any]) -> str:
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": kind,
            kind: content,
        }
        answer = self._post(f"{self.api_url}/{sender}/messages", json=body, timeout=self.timeout)
        messages = answer.get("messages") or [{}]
        return str(messages[0].get("id") or "")

    def _post(self, url: str, **kw: Any) -> dict[str, Any]:
        try:
            response = self.session.post(url, **kw)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ChannelUnavailable(f"WhatsApp: {type(exc).__name__}") from exc
        if response.status_code < 400:
            answer = response.json()
            return answer if isinstance(answer, dict) else {}
        raise _graph_error(response)


def _text(text: str) -> dict[str, Any]:
    return {"preview_url": False, "body": text}


def _graph_error(response: requests.Response) -> Exception:
    """A Graph API error ``{"error": {"message", "type", "code", "error_data": {"details"},
    "fbtrace_id"}}`` as the exception the relay job acts on."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    said = details or error.get("message") or response.text[:300]
    text = f"WhatsApp: HTTP {response.status_code} code {code}: {said}"
    if code == RE_ENGAGEMENT:
        return WindowClosed(text)
    if code in MEDIA_ERRORS:
        return MediaRejected(text, "media_refused")
    if response.status_code >= 500 or response.status_code == 429 or code in THROTTLED:
        return ChannelUnavailable(text)
    return ChannelRejected(text[:500])


class TwilioSender:
    """Twilio's Messages API through the official client (``api_url`` for tests); a file goes
    as ``MediaUrl``, a signed link of this service that Twilio fetches."""

    def __init__(self, account_sid: str, auth_token: str, api_url: str | None = None) -> None:
        self.client = Client(account_sid, auth_token)
        if api_url:
            self.client.api.base_url = api_url.rstrip("/")

    def send(self, reply: Reply) -> str:
        prefix = "whatsapp:" if reply.channel == "whatsapp" else ""
        sender = reply.sender or ""
        extra: dict[str, Any] = {}
        if reply.media is not None:
            if not reply.media.url:
                raise ChannelRejected("Twilio: a file needs a public link (PUBLIC_BASE_URL)")
            extra["media_url"] = [reply.media.url]
        if reply.template is not None:
            raise ChannelRejected("Twilio: templates are sent as Content SIDs, not supported")
        if reply.text or reply.media is None:
            extra["body"] = reply.text
        try:
            message = self.client.messages.create(
                from_=sender if sender.startswith(prefix) else prefix + sender,
                to=prefix + reply.to,
                **extra,
            )
        except TwilioRestException as exc:
            if exc.status >= 500 or exc.status == 429:
                raise ChannelUnavailable(f"Twilio: HTTP {exc.status}") from exc
            if exc.code == TWILIO_WINDOW:
                raise WindowClosed(f"Twilio: {exc.code} {exc.msg}") from exc
            if exc.code in TWILIO_MEDIA:
                raise MediaRejected(f"Twilio: {exc.code} {exc.msg}", "media_refused") from exc
            raise ChannelRejected(f"Twilio: {exc.code} {exc.msg}") from exc
        except (TwilioException, requests.RequestException) as exc:
            raise ChannelUnavailable(f"Twilio: {type(exc).__name__}") from exc
        return str(message.sid)
