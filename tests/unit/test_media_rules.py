"""Rules of outbound files and the WhatsApp window (service/domain/media.py): channel limits,
signed one-time links, the 24-hour window, the approved templates setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.config import Config
from service.domain import media
from service.domain.ports import MediaRejected

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("provider", "channel", "mime", "limit"),
    [
        ("meta", "whatsapp", "image/jpeg", 5 * media.MB),
        ("meta", "whatsapp", "video/mp4", 16 * media.MB),
        ("meta", "whatsapp", "audio/ogg", 16 * media.MB),
        ("meta", "whatsapp", "application/pdf", 100 * media.MB),
        ("twilio", "whatsapp", "image/webp", 5 * media.MB),
        ("twilio", "whatsapp", "application/pdf", 16 * media.MB),
        ("twilio", "sms", "image/gif", 5 * media.MB),
        ("mailgun", "email", "application/zip", media.EMAIL_MAX),
    ],
)
def test_each_channel_takes_its_types_up_to_its_limit(provider, channel, mime, limit):
    assert media.max_size(provider, channel, mime) == limit


@pytest.mark.parametrize(
    ("provider", "channel", "mime"),
    [
        ("meta", "whatsapp", "application/zip"),
        ("meta", "whatsapp", "image/gif"),
        ("twilio", "sms", "application/pdf"),
        ("twilio", "whatsapp", "video/3gpp"),
    ],
)
def test_a_type_the_channel_does_not_take_is_refused_by_code(provider, channel, mime):
    with pytest.raises(MediaRejected) as refused:
        media.max_size(provider, channel, mime)
    assert refused.value.code == "media_type"


def test_size_over_the_limit_is_refused_at_the_byte():
    media.check_size(5 * media.MB, 5 * media.MB, "image/png")
    with pytest.raises(MediaRejected) as refused:
        media.check_size(5 * media.MB + 1, 5 * media.MB, "image/png")
    assert refused.value.code == "media_too_large"


def test_content_type_drops_parameters_and_guesses_from_the_name():
    assert media.content_type("audio/ogg; codecs=opus", "nota.ogg") == "audio/ogg"
    assert media.content_type("", "estado.pdf") == "application/pdf"
    assert media.content_type("application/octet-stream", "foto.JPG") == "image/jpeg"
    assert media.content_type(None, "sin-extension") == "application/octet-stream"
    assert media.whatsapp_kind("image/png") == "image"
    assert media.whatsapp_kind("application/pdf") == "document"


def test_a_signed_link_reads_back_until_it_expires():
    token = media.sign_link("secret", 42, 3, NOW + timedelta(minutes=15))
    assert media.read_link("secret", token, NOW) == media.MediaLink(
        42, 3, int((NOW + timedelta(minutes=15)).timestamp())
    )
    with pytest.raises(media.LinkExpired):
        media.read_link("secret", token, NOW + timedelta(minutes=15))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: media.sign_link("secret", 43, 3, NOW).split(".")[0] + "." + t.split(".")[1],
        lambda t: t.replace(".", ""),
        lambda t: "%%%.%%%",
    ],
)
def test_a_link_not_signed_by_this_service_is_invalid(tamper):
    token = media.sign_link("secret", 42, 3, NOW + timedelta(minutes=15))
    with pytest.raises(media.LinkInvalid):
        media.read_link("secret", tamper(token), NOW)
    with pytest.raises(media.LinkInvalid):
        media.read_link("another secret", token, NOW)


def test_the_window_closes_24_hours_after_the_customers_last_message():
    assert media.window_open(NOW - timedelta(hours=23, minutes=59), NOW)
    assert not media.window_open(NOW - timedelta(hours=24), NOW)
    assert not media.window_open(None, NOW)  # the customer never wrote


def test_approved_templates_are_read_from_the_environment():
    config = Config.from_env({"CARTERAS_WHATSAPP_TEMPLATES": " seguimiento:es_MX, pago:es ,"})
    assert config.whatsapp_templates == (("seguimiento", "es_MX"), ("pago", "es"))
    assert Config.from_env({}).whatsapp_templates == ()
    assert Config.from_env({"CARTERAS_MEDIA_LINK_TTL": "60"}).media_link_ttl == 60
    with pytest.raises(ValueError, match="name:language"):
        Config.from_env({"CARTERAS_WHATSAPP_TEMPLATES": "seguimiento"})
