"""Customers' files behind the ChannelFiles port: fetched from WhatsApp's Graph API or
Twilio, or kept in a spool folder when the delivery itself carried them (email).

Every download streams into the caller's file, with a timeout and a size cap; nothing is
kept in memory whole, nothing goes to the database.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import requests

from service.domain.ports import FileGone, FileUnavailable

WHATSAPP = "whatsapp-media:"
SPOOL = "spool:"
CHUNK = 64 * 1024


class ChannelFilesClient:
    def __init__(
        self,
        spool_dir: Path,
        *,
        whatsapp_token: str | None = None,
        whatsapp_api_url: str = "https://graph.facebook.com/v21.0",
        twilio_account_sid: str | None = None,
        twilio_auth_token: str | None = None,
        timeout: float = 20.0,
    ) -> None:
        self.spool = spool_dir
        self.whatsapp_token = whatsapp_token
        self.whatsapp_api_url = whatsapp_api_url.rstrip("/")
        self.twilio_auth = (
            (twilio_account_sid, twilio_auth_token)
            if twilio_account_sid and twilio_auth_token
            else None
        )
        self.timeout = timeout
        self.session = requests.Session()

    # ---- the spool: bytes that came inside a delivery --------------------------------------
    def _spooled(self, ref: str) -> Path:
        digest = ref.removeprefix(SPOOL)
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise FileGone(f"not a spool reference: {ref[:80]}")
        return self.spool / digest

    def keep(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.spool / digest
        if not target.exists():  # content-addressed: the same bytes are kept once
            handle, temporary = tempfile.mkstemp(dir=self.spool, prefix=".in-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        return SPOOL + digest

    def forget(self, ref: str) -> None:
        if ref.startswith(SPOOL):
            self._spooled(ref).unlink(missing_ok=True)

    # ---- fetching ----------------------------------------------------------------------------
    def fetch(self, ref: str, into: BinaryIO, max_bytes: int) -> str | None:
        if ref.startswith(SPOOL):
            path = self._spooled(ref)
            if not path.exists():
                raise FileGone("the kept file is gone")
            with path.open("rb") as source:
                _copy(iter(lambda: source.read(CHUNK), b""), into, max_bytes)
            return None
        if ref.startswith(WHATSAPP):
            return self._whatsapp(ref.removeprefix(WHATSAPP), into, max_bytes)
        if ref.startswith(("https://", "http://")):
            # Twilio's MediaUrl: with the account's basic auth when the account protects its
            # media ("Enforce HTTP Basic Auth for media"); requests drops it on the redirect
            # to the storage host.
            return self._download(ref, into, max_bytes, auth=self.twilio_auth)
        raise FileGone(f"no way to fetch {ref[:80]}")

    def _whatsapp(self, media_id: str, into: BinaryIO, max_bytes: int) -> str | None:
        """Graph API: GET /{media-id} gives a URL valid for minutes, downloaded with the same
        token. The URL is asked for again on every try, so an expired one never fails a retry."""
        if not self.whatsapp_token:
            raise FileGone("WHATSAPP_ACCESS_TOKEN is not set: WhatsApp media cannot be fetched")
        headers = {"Authorization": f"Bearer {self.whatsapp_token}"}
        for attempt in range(2):
            info = self._json(f"{self.whatsapp_api_url}/{media_id}", headers)
            url = info.get("url")
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise FileGone("the Graph API gave no download URL")
            try:
                found = self._download(url, into, max_bytes, headers=headers)
            except FileGone:
                if attempt:
                    raise
                into.seek(0)
                into.truncate()
                continue  # the URL lapsed before we used it: ask the id for a fresh one
            mime = info.get("mime_type")
            return mime if isinstance(mime, str) else found
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        try:
            answer = self.session.get(url, headers=headers, timeout=self.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise FileUnavailable(f"{type(exc).__name__}") from exc
        _check(answer)
        try:
            body = answer.json()
        except ValueError:
            raise FileUnavailable("the Graph API answered no JSON") from None
        return body if isinstance(body, dict) else {}

    def _download(
        self,
        url: str,
        into: BinaryIO,
        max_bytes: int,
        *,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> str | None:
        try:
            with self.session.get(
                url, headers=headers, auth=auth, timeout=self.timeout, stream=True
            ) as answer:
                _check(answer)
                _copy(answer.iter_content(CHUNK), into, max_bytes)
                return answer.headers.get("Content-Type")
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise FileUnavailable(f"{type(exc).__name__}") from exc


def _check(answer: requests.Response) -> None:
    if answer.status_code >= 500 or answer.status_code == 429:
        raise FileUnavailable(f"HTTP {answer.status_code}")
    if answer.status_code >= 400:
        raise FileGone(f"HTTP {answer.status_code}")


def _copy(chunks: Any, into: BinaryIO, max_bytes: int) -> None:
    written = 0
    for chunk in chunks:
        into.write(chunk)
        written += len(chunk)
        if written > max_bytes:
            return  # the caller sees the size and refuses the file
