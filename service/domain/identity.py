"""Normalize the addresses people write (phones, emails) into one canonical form each.

Phones become E.164 through ``phonenumbers``; emails are validated and lower-cased.
Pure functions: no database, no Flask.
"""

from __future__ import annotations

import functools
import re
from typing import Final

import email_validator
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneMetadata, re_util
from phonenumbers import phonenumberutil as pnu

PHONE: Final = "phone"
EMAIL: Final = "email"

_DIGITS = re.compile(r"\D+")
# What a channel may put around the digits of a phone; letters are refused, not read as a
# vanity number (phonenumbers turns "ABC" into 222), so "+1abc..." never becomes a number.
_PHONE_TEXT = re.compile(r"\+?[\d\s().\-/]+")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
# The addresses people nearly always write: ASCII letters, digits and ``_+-`` in dotted
# words, then a dotted host name ending in a letters-only top-level domain. For these,
# email_validator's answer is the address itself (lower-cased by us); see _plain_email.
# No re.IGNORECASE: with it, [a-z] also matches the Kelvin sign and the long s.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9_+\-]+(?:\.[A-Za-z0-9_+\-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


class BadAddress(ValueError):
    """The text is not a usable phone number or email address; ``rule`` names which."""

    def __init__(self, message: str, rule: str = "address.invalid", **params: object) -> None:
        super().__init__(message)
        self.rule, self.params = rule, params


def _mexico_legacy_mobile(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber:
    # Mexico dropped the mobile "1" after +52 in 2019, but WhatsApp ids and old address
    # books still carry it (5215512345678): +52 1 55 ... and +52 55 ... are the same line.
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        return phonenumbers.PhoneNumber(country_code=52, national_number=int(national[1:]))
    return number


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    number = _mexico_legacy_mobile(number)
    return number if phonenumbers.is_valid_number(number) else None


def normalize_phone(raw: str, region: str) -> str:
    """E.164 form of a phone written in any usual way.

    National forms use *region* (e.g. ``MX``: ``55 1234 5678`` -> ``+525512345678``); bare
    international digits without ``+`` (WhatsApp ids such as ``5215512345678``) are accepted.

    :raise BadAddress: not a valid phone number.
    """
    text = raw.strip()
    if not text:
        raise BadAddress("is empty", "field.empty")
    e164 = _e164(text, region)
    if e164 is None:
        raise BadAddress(f"{raw!r} is not a valid phone number", "phone.invalid", value=raw)
    return e164


# Parsing costs ~50 us, and a customer writes from the same number, written the same way,
# message after message (and stored handles are checked again and again): remember the
# last answers. Pure function of its arguments (phonenumbers' metadata does not change).
@functools.lru_cache(maxsize=8192)
def _e164(text: str, region: str) -> str | None:
    number = _parse(text, region)
    digits = _DIGITS.sub("", text)
    if number is None and not text.startswith("+") and len(digits) >= 8:
        number = _parse("+" + digits.removeprefix("00"), region)
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone_quickly(raw: str, region: str) -> str:
    """:func:`normalize_phone`'s answer (the same value, the same :class:`BadAddress`) in about
    a third of the time, for a file of many different numbers (a 100k-row import: 3.7 s of
    phonenumbers' parsing), where its cache of recent answers never hits, and for the
    handles of inbound messages (:func:`normalize_handle`, which remembers its answers).

    Numbers written plainly (ASCII digits, spaces, ``-``, ``.``, parentheses, an optional
    leading ``+``) are parsed by :func:`_quick_parse`, phonenumbers' own steps and metadata
    for that kind of text without its Unicode and extension handling; validity is checked
    with the metadata's patterns compiled once. Anything else goes to phonenumbers as in
    :func:`normalize_phone`. tests/unit/test_identity.py compares both over generated
    numbers of several regions.
    """
    text = raw.strip()
    if not text:
        raise BadAddress("is empty", "field.empty")
    if not _QUICK_READY:
        return normalize_phone(raw, region)
    try:
        e164 = _quick_e164(text, region)
    except (AttributeError, TypeError):  # a phonenumbers release changed what we follow
        return normalize_phone(raw, region)
    if e164 is None:
        raise BadAddress(f"{raw!r} is not a valid phone number", "phone.invalid", value=raw)
    return e164


# The private steps of phonenumbers the quick path follows: a release without one of them
# sends every number to the library itself (normalize_phone), never to an error.
_QUICK_READY: Final = all(
    hasattr(pnu, name)
    for name in (
        "_extract_country_code",
        "_match_national_number",
        "_maybe_strip_national_prefix_carrier_code",
        "_set_italian_leading_zeros_for_phone_number",
        "_test_number_length",
        "COUNTRY_CODE_TO_REGION_CODE",
    )
)

# Text phonenumbers reads as one number, without extension, alphabetic digits or RFC 3966
# parts: an optional "(" (skipped), an optional "+", then ASCII digits and separators.
_PLAIN_PHONE = re.compile(r"\(?(\+?)[0-9][0-9 ().\-]*")
_NOT_DIGITS = re.compile(r"[^0-9]+")
_ASK: Final = object()  # _quick_parse cannot tell: ask phonenumbers


def _quick_e164(text: str, region: str) -> str | None:
    """:func:`_e164` (uncached) with :func:`_quick_parse` where it can answer."""
    number = _quick_valid(text, region)
    if number is _ASK:
        return _e164.__wrapped__(text, region)
    digits = _DIGITS.sub("", text)
    if number is None and not text.startswith("+") and len(digits) >= 8:
        again = "+" + digits.removeprefix("00")
        number = _quick_valid(again, region)
        if number is _ASK:
            number = _parse(again, region)
    if number is None:
        return None
    assert isinstance(number, phonenumbers.PhoneNumber)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _quick_valid(text: str, region: str) -> phonenumbers.PhoneNumber | None | object:
    """:func:`_parse`'s answer for plain text, or ``_ASK``."""
    number = _quick_parse(text, region)
    if number is None or number is _ASK:
        return number
    assert isinstance(number, phonenumbers.PhoneNumber)
    number = _mexico_legacy_mobile(number)
    return number if _valid(number) else None


def _quick_parse(text: str, region: str) -> phonenumbers.PhoneNumber | None | object:
    """``phonenumbers.parse(text, region)`` for plain text (None where it raises), following
    its steps (``parse``, ``_maybe_extract_country_code``) for the branches plain text can
    take; ``_ASK`` for the rarer ones (an international dialling prefix, an unknown
    country code, very short text, a region it does not know)."""
    found = _PLAIN_PHONE.fullmatch(text)
    if found is None or len(text) > 250 or region not in phonenumbers.SUPPORTED_REGIONS:
        return _ASK
    digits = _NOT_DIGITS.sub("", text)
    if len(digits) < 3:
        return _ASK
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.country_code is None:
        return _ASK
    if found.group(1):  # "+" and a country code
        country_code, national = pnu._extract_country_code(digits)
        if country_code == 0:
            return _ASK
    else:
        idd = metadata.international_prefix
        if idd and re_util.re_compile(idd).match(digits):
            return _ASK
        country_code, national = _default_country_code(digits, metadata)
    if country_code:
        number_region = pnu.region_code_for_country_code(country_code)
        if number_region != region:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(
                country_code, number_region
            )
            if metadata is None:
                return _ASK
    else:
        country_code, national = metadata.country_code or 0, digits
    return _national_part(country_code, national, metadata)


def _default_country_code(digits: str, metadata: PhoneMetadata) -> tuple[int, str]:
    """The FROM_DEFAULT_COUNTRY branch of ``_maybe_extract_country_code``: the region's
    country code written without "+" (``5215512345678`` in MX), or (0, "")."""
    code = str(metadata.country_code)
    if metadata.country_code and digits.startswith(code):
        general = metadata.general_desc
        _, potential, _ = pnu._maybe_strip_national_prefix_carrier_code(
            digits[len(code) :], metadata
        )
        if (
            not pnu._match_national_number(digits, general, False)
            and pnu._match_national_number(potential, general, False)
        ) or pnu._test_number_length(digits, metadata) == pnu.ValidationResult.TOO_LONG:
            return metadata.country_code, potential
    return 0, ""


def _national_part(
    country_code: int, national: str, metadata: PhoneMetadata
) -> phonenumbers.PhoneNumber | None:
    """The end of ``parse``: national prefix, lengths, leading zeros."""
    if len(national) < 2:
        return None
    _, potential, _ = pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
    if pnu._test_number_length(potential, metadata) not in (
        pnu.ValidationResult.TOO_SHORT,
        pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        pnu.ValidationResult.INVALID_LENGTH,
    ):
        national = potential
    if len(national) < 2 or len(national) > 17:
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code)
    pnu._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number


def _valid(number: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number``: the number's type is known in its region's
    metadata. Countries shared by several regions (+1, +7, +44, ...) are left to it."""
    country_code = number.country_code
    regions = pnu.COUNTRY_CODE_TO_REGION_CODE.get(country_code or 0)
    if regions is None or country_code is None:
        return False
    if len(regions) != 1:
        return phonenumbers.is_valid_number(number)
    return _known_type(pnu.national_significant_number(number), regions[0], country_code)


def _known_type(national: str, region: str, country_code: int) -> bool:
    """``_number_type_helper(..) != UNKNOWN``: the general pattern and any type's pattern
    (fixed line and mobile first: most numbers are one of them)."""
    descs = _type_patterns(region, country_code)
    if descs is None:
        return False
    general, types = descs
    if not _matches(national, general):
        return False
    return any(_matches(national, desc) for desc in types)


_Desc = tuple[frozenset[int], "re.Pattern[str] | None"]


def _matches(national: str, desc: _Desc) -> bool:
    lengths, pattern = desc
    if lengths and len(national) not in lengths:
        return False
    return pattern is not None and pattern.fullmatch(national) is not None


@functools.cache
def _type_patterns(region: str, country_code: int) -> tuple[_Desc, list[_Desc]] | None:
    """A region's number descriptions, compiled once (None: not a region of that code)."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region.upper())
    if metadata is None or (
        region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
        and country_code != pnu.country_code_for_valid_region(region)
    ):
        return None

    def desc(number_desc: phonenumbers.PhoneNumberDesc | None) -> _Desc:
        if number_desc is None:
            return frozenset(), None
        pattern = number_desc.national_number_pattern
        return frozenset(number_desc.possible_length), re.compile(pattern) if pattern else None

    kinds = [metadata.fixed_line]
    if not metadata.same_mobile_and_fixed_line_pattern:
        kinds.append(metadata.mobile)
    kinds += [
        metadata.premium_rate,
        metadata.toll_free,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
    ]
    return desc(metadata.general_desc), [desc(k) for k in kinds if k is not None]


def display_phone(stored: str) -> str:
    """A stored E.164 phone as people read it: ``+525512345678`` -> ``+52 55 1234 5678``;
    anything that does not parse is shown as stored."""
    try:
        number = phonenumbers.parse(stored, None)
    except phonenumbers.NumberParseException:
        return stored
    if not phonenumbers.is_possible_number(number):
        return stored
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalize_email(raw: str) -> str:
    """Lower-cased, syntax-checked email address (no DNS look-up).

    :raise BadAddress: not a valid email address.
    """
    text = raw.strip()
    plain = _plain_email(text)
    if plain is not None:
        return plain
    try:
        info = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadAddress(
            f"{raw!r} is not a valid email address: {exc}", "email.invalid", value=raw
        ) from None
    return info.normalized.lower()


def _plain_email(text: str) -> str | None:
    """*text* lower-cased when it is a plain address that email_validator accepts as it is
    (the same answer ~20 times faster: a 100k-row import checks 100k addresses); None to let
    the library decide. Left to it: any other character, a local part over 64 or an address
    over 254 characters, a label with ``--`` (Punycode rules) and special-use domains."""
    found = _PLAIN_EMAIL.fullmatch(text)
    if found is None or len(text) > 254 or text.index("@") > 64:
        return None
    domain = found.group(1).lower()
    if len(domain) > 253 or "--" in domain:
        return None
    for special in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == special or domain.endswith("." + special):
            return None
    return text.lower()


def phone_variants(e164: str) -> list[str]:
    """Every E.164 form under which the same mobile line may be stored.

    Argentina: WhatsApp writes mobiles as +549..., people and CRMs as +54...; Brazil: old
    accounts lack the ninth digit (+55 11 8765-4321 for +55 11 98765-4321).
    """
    forms = [e164]
    if e164.startswith("+549") and len(e164) == 14:
        forms.append("+54" + e164[4:])
    elif e164.startswith("+54") and not e164.startswith("+549") and len(e164) == 13:
        forms.append("+549" + e164[3:])
    if e164.startswith("+55"):
        national = e164[3:]
        if len(national) == 11 and national[2] == "9":
            forms.append("+55" + national[:2] + national[3:])
        elif len(national) == 10 and national[2] in "6789":
            forms.append("+55" + national[:2] + "9" + national[2:])
    return forms


def normalize_handle(kind: str, value: str, region: str) -> str:
    """Canonical value of a channel handle; phones and emails that do not parse are kept as
    sent (lower-cased for emails) so that nothing a customer sent is lost, and
    ``usable_handle`` then says they identify no one.
    """
    if kind == PHONE:
        return _phone_handle(value, region)
    if kind == EMAIL:
        try:
            return normalize_email(value)
        except BadAddress:
            return value.strip().lower()
    return value.strip()


# Every inbound message's sender goes through here, and a customer writes from the same
# number, written the same way, message after message: the last answers are remembered.
# A new number is normalized by the quick path (normalize_phone's answer in a third of the
# time, tests/unit/test_identity.py). Pure function of its arguments.
@functools.lru_cache(maxsize=8192)
def _phone_handle(value: str, region: str) -> str:
    text = value.strip()
    if not _PHONE_TEXT.fullmatch(text):
        return text  # not written as a phone number
    try:
        return normalize_phone_quickly(value, region)
    except BadAddress:
        return text


def _is_e164(value: str) -> bool:
    try:
        return normalize_phone(value, "ZZ") == value
    except BadAddress:
        return False


def usable_handle(kind: str, value: str) -> bool:
    """Whether a stored handle (``normalize_handle``'s result) may identify a contact: a
    valid phone in E.164, a valid email address, or any other kind when not blank."""
    if kind == PHONE:
        # A Brazilian line stored without its ninth digit is no longer valid on its own,
        # but it still names a line (phone_variants): usable when one of its forms is valid.
        return bool(_E164.fullmatch(value)) and any(_is_e164(v) for v in phone_variants(value))
    if kind == EMAIL:
        try:
            normalize_email(value)
        except BadAddress:
            return False
        return True
    return bool(value.strip())


def phone_digits(text: str) -> str:
    """Only the digits of *text*: used to search phones written in any form."""
    return _DIGITS.sub("", text)
