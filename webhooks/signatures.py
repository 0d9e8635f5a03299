"""Authenticity checks over raw bytes; every comparison is constant-time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from webhooks.inbound import InboundRequest, SignatureError


def hmac_hex(key: str, message: bytes, digest: str = "sha256") -> str:
    return hmac.new(key.encode(), message, digest).hexdigest()


def same(given: str | None, expected: str) -> bool:
    """Constant-time equality of two strings (False when *given* is missing)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def check_basic_auth(req: InboundRequest, user: str, password: str) -> None:
    """HTTP basic auth for providers that sign nothing (Postmark, SendGrid).

    :raise SignatureError: missing or wrong credentials.
    """
    header = req.header("Authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise SignatureError("basic auth credentials are required")
    try:
        given_user, _, given_password = (
            base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        raise SignatureError("malformed basic auth header") from None
    # Both compared, always, so timing does not tell which one was wrong.
    user_ok = same(given_user, user)
    password_ok = same(given_password, password)
    if not (user_ok and password_ok):
        raise SignatureError("wrong basic auth credentials")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
