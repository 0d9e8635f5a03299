"""Phones and emails people write, normalized to one canonical form."""

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given
from hypothesis import strategies as st

from service.domain.identity import (
    BadAddress,
    normalize_email,
    normalize_handle,
    normalize_phone,
    phone_digits,
    usable_handle,
)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+52 55 1234 5678", "MX", "+525512345678"),
        ("55 1234 5678", "MX", "+525512345678"),
        ("(55) 1234-5678", "MX", "+525512345678"),
        ("0052 55 1234 5678", "MX", "+525512345678"),
        # WhatsApp ids: international digits without "+", Mexico's legacy mobile "1".
        ("5215512345678", "MX", "+525512345678"),
        ("+52 1 55 1234 5678", "MX", "+525512345678"),
        ("525512345678", "AR", "+525512345678"),
        # Argentina: the national "15" mobile form becomes the international "9".
        ("011 15 2345-6789", "AR", "+5491123456789"),
        ("5491123456789", "MX", "+5491123456789"),
        ("+1 (415) 555-2671", "MX", "+14155552671"),
    ],
)
def test_phone_in_any_written_form_becomes_e164(raw, region, expected):
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "   ", "abc", "12345", "55 1234 567x", "+52 55"])
def test_unusable_phone_is_refused(raw):
    with pytest.raises(BadAddress):
        normalize_phone(raw, "MX")


def test_email_is_lower_cased_and_trimmed():
    assert normalize_email("  Juan.Perez@Example.COM ") == "juan.perez@example.com"


@pytest.mark.parametrize("raw", ["", "juan", "juan@", "@example.com", "juan@@example.com"])
def test_bad_email_is_refused(raw):
    with pytest.raises(BadAddress):
        normalize_email(raw)


def _library(text):
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def _ours(text):
    try:
        return normalize_email(text)
    except BadAddress:
        return None


@pytest.mark.parametrize(
    "raw",
    [
        "Ana.Maria+ventas@Correo.Example.COM",
        "a_b-c@x-y.mx",
        "ab--cd@example.com",
        "ana@ab--cd.com",
        "ana@xn--caf-dma.com",
        "ana@-example.com",
        "ana@example-.com",
        "ana@example.c",
        "ana@example.123",
        "ana@localhost",
        "ana@printer.local",
        "ana@host.test",
        "ana@something.arpa",
        "ana@example",
        ".ana@example.com",
        "ana.@example.com",
        "an..a@example.com",
        "ana@example..com",
        "Info@Example.com",
        "Postmaster@Example.com",
        "a" * 64 + "@example.com",
        "a" * 65 + "@example.com",
        "ana@" + "b" * 63 + ".com",
        "ana@" + "b" * 64 + ".com",
        "ana@" + ".".join(["b" * 60] * 4) + ".com",
        "a" * 60 + "@" + ".".join(["b" * 60] * 3) + ".com",
        "ana@ejemplo.com\u212a",
        "\u212aana@example.com",
        "ana@examp\u017fe.com",
        "josé@example.com",
        "ana@señal.mx",
    ],
)
def test_plain_email_shortcut_answers_as_email_validator(raw):
    assert _ours(raw) == _library(raw)


_EMAILISH = st.text(alphabet="aZ09_+-.@xn\u212a\u017f", min_size=1, max_size=24) | st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[A-Za-z0-9_+.\-]{1,70}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9.\-]{1,70}", fullmatch=True),
    st.sampled_from(["com", "mx", "c", "x1", "local", "test", "arpa", "onion", "COM"]),
)


@given(_EMAILISH)
def test_any_email_is_normalized_as_email_validator_does(raw):
    assert _ours(raw) == _library(raw)


def test_a_phone_normalized_again_gives_the_same_answer():
    assert normalize_phone("55 1234 5678", "MX") == normalize_phone("55 1234 5678", "MX")
    for _ in range(2):
        with pytest.raises(BadAddress):
            normalize_phone("55 1234", "MX")


def test_phone_digits_drops_everything_else():
    assert phone_digits("+52 (55) 1234-5678") == "525512345678"


@pytest.mark.parametrize(
    ("kind", "raw", "stored", "usable"),
    [
        ("phone", "+52 55 1234 5678", "+525512345678", True),
        ("phone", "5215512345678", "+525512345678", True),
        # letters are not vanity digits: "abc" would become 222, someone else's line
        ("phone", "+1415abc1234", "+1415abc1234", False),
        ("phone", "+1abc", "+1abc", False),
        ("phone", "52155x12345678", "52155x12345678", False),
        ("phone", "12", "12", False),
        ("email", "Ana@Example.com", "ana@example.com", True),
        ("email", "rosa at example", "rosa at example", False),
        ("rocketchat", "3e9b1f0c", "3e9b1f0c", True),
        ("rocketchat", "  ", "", False),
    ],
)
def test_only_valid_channel_handles_may_identify_a_contact(kind, raw, stored, usable):
    value = normalize_handle(kind, raw, "MX")
    assert value == stored
    assert usable_handle(kind, value) is usable
