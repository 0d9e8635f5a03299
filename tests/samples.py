"""The signed provider samples in tests/payloads/, with their test secrets and headers."""

from __future__ import annotations

import base64
from pathlib import Path

PAYLOADS = Path(__file__).parent / "payloads"

WHATSAPP_SECRET = "test-app-secret"
WHATSAPP_VERIFY_TOKEN = "test-verify-token"
TWILIO_TOKEN = "test-twilio-auth-token"
TWILIO_URL = "https://carteras.example.com/webhooks/twilio"
MAILGUN_KEY = "test-mailgun-signing-key"
MAILGUN_TIMESTAMP = 1763809500
POSTMARK_AUTH = ("postmark", "test-postmark-password")
SENDGRID_AUTH = ("sendgrid", "test-sendgrid-password")
SENDGRID_TYPE = "multipart/form-data; boundary=----sgboundary7MA4YWxkTrZu0gW"
ROCKETCHAT_TOKEN = "test-livechat-token"

WHATSAPP_SIGNATURES = {
    "whatsapp-text.json": "b5e9ec901208ae266cd0092a4dbef4b925b83b839b18ccbeb09b5f4ab49cb16e",
    "whatsapp-image.json": "69349e5f72889e765891b1df47150746553d9f69f0ef0fad56632a0e87277b1e",
    "whatsapp-status-only.json": "6eedcd02130a701b36eb99c2b5b1f798d4f1ede9a2f8b10199b0368054599cfe",
    "whatsapp-batch.json": "38424dde2e57e20131a194954ce039d02b7174cf454be4fcb515a22a151570d9",
}
TWILIO_SIGNATURE = "Ad8CbmH0WQ2pCPEoap78QT6TUjk="


def raw(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
