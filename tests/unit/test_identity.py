"""Phones and emails people write, normalized to one canonical form."""

import random

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given
from hypothesis import strategies as st

from service.domain import identity
from service.domain.identity import (
    BadAddress,
    normalize_email,
    normalize_handle,
    normalize_phone,
    normalize_phone_quickly,
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


# normalize_phone_quickly must answer exactly as normalize_phone (phonenumbers itself): the
# same E.164 value, or the same refusal, for numbers written in every usual way.
_REGIONS = ["MX", "AR", "BR", "CL", "CO", "PE", "US", "ES"]
_TYPES = [
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.UAN,
]


def _answer(normalize, raw, region):
    try:
        return normalize(raw, region)
    except BadAddress as exc:
        return (str(exc), exc.rule, exc.params)


def _written_forms(rnd):
    """Numbers of each region and type, some digits changed, dropped or added (so many are
    invalid), written national, international, E.164, with IDD or trunk prefixes, as
    WhatsApp ids, and as plain digit runs with separators."""
    for region in _REGIONS:
        for kind in _TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            for _ in range(25):
                digits = "".join(
                    c if rnd.random() > 0.3 else rnd.choice("0123456789")
                    for c in str(example.national_number)
                )
                digits = digits[: rnd.choice([len(digits), len(digits) - 1])]
                digits += rnd.choice(["", "", rnd.choice("0123456789")])
                number = phonenumbers.PhoneNumber(
                    country_code=example.country_code, national_number=int(digits or "0")
                )
                for form in phonenumbers.PhoneNumberFormat.__dict__.values():
                    if isinstance(form, int):
                        yield phonenumbers.format_number(number, form)
                code = str(example.country_code)
                yield from (f"00{code}{digits}", f"{code}{digits}", f"{code}1{digits}")
                yield from (
                    f"0{digits}",
                    f"01{digits}",
                    f"15{digits}",
                    f"({digits[:2]}) {digits[2:]}",
                )
    for _ in range(3000):
        digits = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 18)))
        prefix = rnd.choice(["", "+", "00", "0", "(", "+(", "1", "011", "0052", "+0", " "])
        yield prefix + "".join(
            c + rnd.choice(["", "", "", " ", "-", ".", "(", ")"]) for c in digits
        )


def test_quick_phone_normalization_answers_as_phonenumbers():
    rnd = random.Random(20240614)
    compared = quick = 0
    for raw in _written_forms(rnd):
        for region in _REGIONS:
            expected = _answer(normalize_phone, raw, region)
            assert _answer(normalize_phone_quickly, raw, region) == expected, (raw, region)
            compared += 1
            quick += identity._quick_parse(raw.strip(), region) is not identity._ASK
    assert compared > 50_000
    assert quick > compared // 2  # the quick path itself was compared, not only its fallback


@given(
    st.text(alphabet="0123456789 +-.()x#;/\u0663\uff11", min_size=0, max_size=22),
    st.sampled_from(_REGIONS + ["ZZ", "mx"]),
)
def test_any_text_is_normalized_quickly_as_phonenumbers_does(raw, region):
    assert _answer(normalize_phone_quickly, raw, region) == _answer(normalize_phone, raw, region)


def test_a_phonenumbers_release_without_the_quick_steps_falls_back_to_it(monkeypatch):
    """The quick path follows private steps of phonenumbers: without them (a new release),
    every number goes to the library, with its answers, instead of failing the import."""

    class Release:
        """phonenumberutil as a release without one of the private steps followed."""

        def __getattr__(self, name):
            if name == "_test_number_length":
                raise AttributeError(name)
            return getattr(phonenumbers.phonenumberutil, name)

    monkeypatch.setattr(identity, "pnu", Release())
    for raw in ["55 1234 5678", "+52 1 55 1234 5678", "123", "(011) 4567-8901"]:
        assert _answer(normalize_phone_quickly, raw, "MX") == _answer(normalize_phone, raw, "MX")
    monkeypatch.setattr(identity, "_QUICK_READY", False)
    for raw in ["55 1234 5678", "+52 1 55 1234 5678", "123", "(011) 4567-8901"]:
        assert _answer(normalize_phone_quickly, raw, "MX") == _answer(normalize_phone, raw, "MX")
