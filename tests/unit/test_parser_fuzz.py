"""Webhook parsers under fuzzing, with no safety net between the parser and the test.

Each parser is called undecorated (``parse.__wrapped__``): ``shape_checked``, which turns
crashes into PayloadError in production, is tested on its own below, so a crash of a parser
fails here instead of being hidden. Real samples with harmless changes (whitespace, key
order, unknown fields) must still parse to the same messages.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain.messages import Delivery, Identity, InboundMessage
from tests import samples
from webhooks import rocketchat, twilio, whatsapp
from webhooks.email import mailgun, postmark, sendgrid
from webhooks.inbound import InboundRequest, PayloadError, shape_checked

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"
MODULES = {
    "whatsapp": (whatsapp, "application/json"),
    "twilio": (twilio, FORM),
    "mailgun": (mailgun, FORM),
    "postmark": (postmark, "application/json"),
    "sendgrid": (sendgrid, samples.SENDGRID_TYPE),
    "rocketchat": (rocketchat, "application/json"),
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
JSON_SAMPLES = {
    "whatsapp-text.json": "whatsapp",
    "whatsapp-image.json": "whatsapp",
    "whatsapp-batch.json": "whatsapp",
    "whatsapp-status-only.json": "whatsapp",
    "postmark.json": "postmark",
    "rocketchat/visitor-message.json": "rocketchat",
    "rocketchat/agent-message.json": "rocketchat",
    "rocketchat/offline-message.json": "rocketchat",
    "rocketchat/chat-start.json": "rocketchat",
    "rocketchat/chat-close.json": "rocketchat",
}
# Values a provider could really send in a field we do not know (JSON has no Infinity).
unknown_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
FORM_SAMPLES = {"twilio-whatsapp.form": "twilio", "mailgun.form": "mailgun"}


def request(name: str, raw: bytes) -> InboundRequest:
    content_type = MODULES[name][1]
    return InboundRequest(
        "https://carteras.example.com/x", {"Content-Type": content_type}, raw, content_type
    )


def undecorated(name: str, raw: bytes) -> None:
    """The parser without its guard: a delivery or PayloadError; any other exception fails."""
    parse = MODULES[name][0].parse
    with contextlib.suppress(PayloadError):
        parse.__wrapped__(request(name, raw))


def test_every_parser_is_guarded_and_the_guard_can_be_removed_for_fuzzing():
    for module, _ in MODULES.values():
        assert callable(module.parse.__wrapped__), module.__name__


@FUZZ
@given(name=st.sampled_from(sorted(MODULES)), raw=st.binary(max_size=2048))
def test_arbitrary_bytes(name, raw):
    undecorated(name, raw)


@FUZZ
@given(name=st.sampled_from(["whatsapp", "postmark", "rocketchat"]), value=json_values)
def test_arbitrary_json(name, value):
    undecorated(name, json.dumps(value).encode())


def _mutations(document):
    """Shape-preserving damage: drop keys, swap values for other JSON types."""
    if isinstance(document, dict):
        return st.one_of(
            st.just(document),
            st.sampled_from(sorted(document) or [""]).map(
                lambda k: {x: y for x, y in document.items() if x != k}
            ),
            st.sampled_from(sorted(document) or [""]).flatmap(
                lambda k: json_values.map(lambda v: {**document, k: v})
            ),
            st.sampled_from(sorted(document) or [""]).flatmap(
                lambda k: _mutations(document.get(k)).map(lambda v: {**document, k: v})
            ),
        )
    if isinstance(document, list) and document:
        return st.integers(0, len(document) - 1).flatmap(
            lambda i: _mutations(document[i]).map(lambda v: [*document[:i], v, *document[i + 1 :]])
        )
    return json_values


@FUZZ
@given(data=st.data(), sample=st.sampled_from(sorted(JSON_SAMPLES)))
def test_damaged_real_payloads(data, sample):
    damaged = data.draw(_mutations(json.loads(samples.raw(sample))))
    undecorated(JSON_SAMPLES[sample], json.dumps(damaged).encode())


@FUZZ
@given(cut=st.integers(0, 1200), junk=st.binary(max_size=64))
def test_damaged_multipart_and_forms(cut, junk):
    for sample, name in (
        ("sendgrid.multipart", "sendgrid"),
        ("mailgun.form", "mailgun"),
        ("twilio-whatsapp.form", "twilio"),
    ):
        raw = samples.raw(sample)
        undecorated(name, raw[:cut] + junk + raw[cut:])


# ---- known-good variants: the same messages ---------------------------------------------------


def comparable(delivery: Delivery) -> Delivery:
    """The delivery without the provider's payload echo (which keeps unknown fields)."""
    return dataclasses.replace(
        delivery, messages=tuple(dataclasses.replace(m, payload={}) for m in delivery.messages)
    )


def parse(name: str, raw: bytes) -> Delivery:
    if name == "twilio":  # Twilio sends no time: the parser takes the moment it got it
        return twilio.parse(request(name, raw), now=NOW)
    return MODULES[name][0].parse(request(name, raw))


def _reshaped(value: Any, rng: random.Random, extra: list[Any]) -> Any:
    """*value* with every object's keys in another order and, now and then, an unknown key."""
    if isinstance(value, list):
        return [_reshaped(v, rng, extra) for v in value]
    if not isinstance(value, dict):
        return value
    items = [(k, _reshaped(v, rng, extra)) for k, v in value.items()]
    rng.shuffle(items)
    if extra and rng.random() < 0.5:
        items.insert(rng.randrange(len(items) + 1), (f"x_unknown_{len(extra)}", extra.pop()))
    return dict(items)


@FUZZ
@given(
    sample=st.sampled_from(sorted(JSON_SAMPLES)),
    seed=st.integers(0, 2**32),
    extra=st.lists(unknown_values, max_size=6),
    indent=st.sampled_from([None, 0, 1, 2, 4, "\t", " \r\n "]),
    separators=st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]),
)
def test_harmless_changes_to_json_samples_parse_to_the_same_messages(
    sample, seed, extra, indent, separators
):
    name = JSON_SAMPLES[sample]
    original = samples.raw(sample)
    variant = _reshaped(json.loads(original), random.Random(seed), list(extra))
    if indent is not None:
        separators = (separators[0].rstrip(), separators[1])
    raw = json.dumps(variant, indent=indent, separators=separators, ensure_ascii=seed % 2 == 0)
    expected = parse(name, original)
    assert comparable(parse(name, ("\n " + raw + "\r\n").encode())) == comparable(expected)


@FUZZ
@given(
    sample=st.sampled_from(sorted(FORM_SAMPLES)),
    seed=st.integers(0, 2**32),
    extra=st.lists(st.text(max_size=20), max_size=4),
)
def test_harmless_changes_to_form_samples_parse_to_the_same_messages(sample, seed, extra):
    name = FORM_SAMPLES[sample]
    original = samples.raw(sample)
    pairs = urllib.parse.parse_qsl(original.decode(), keep_blank_values=True)
    pairs += [(f"XUnknown{i}", value) for i, value in enumerate(extra)]
    random.Random(seed).shuffle(pairs)
    raw = urllib.parse.urlencode(pairs).encode()
    assert comparable(parse(name, raw)) == comparable(parse(name, original))


def test_the_samples_parse_to_messages():
    """The variants above compare against something: each sample carries a message or a
    receipt with a sender and a time."""
    for sample, name in {**JSON_SAMPLES, **FORM_SAMPLES, "sendgrid.multipart": "sendgrid"}.items():
        delivery = parse(name, samples.raw(sample))
        assert delivery.messages or delivery.statuses, sample
        for message in delivery.messages:
            assert message.external_id and message.sent_at, sample


# ---- the guard, on its own ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "crash", [KeyError("x"), TypeError("x"), AttributeError("x"), IndexError(1), ValueError("x")]
)
def test_the_guard_turns_a_shape_error_into_payload_error(crash):
    @shape_checked
    def broken(req: InboundRequest) -> Delivery:
        raise crash

    with pytest.raises(PayloadError, match="documented shape"):
        broken(request("whatsapp", b"{}"))


def test_the_guard_lets_other_failures_and_payload_errors_through():
    @shape_checked
    def refusing(req: InboundRequest) -> Delivery:
        raise PayloadError("no messages field")

    @shape_checked
    def buggy(req: InboundRequest) -> Delivery:
        raise RuntimeError("a bug, not a bad payload")

    with pytest.raises(PayloadError, match="^no messages field$"):
        refusing(request("whatsapp", b"{}"))
    with pytest.raises(RuntimeError):
        buggy(request("whatsapp", b"{}"))


def test_the_guard_cleans_the_text_of_what_the_parser_returns():
    dirty = InboundMessage(
        channel="whatsapp",
        provider="meta",
        external_id="wamid.1",
        sender=Identity(kind="phone", value="+5215512345678", raw="5215512345678"),
        sent_at=parse("whatsapp", samples.raw("whatsapp-text.json")).messages[0].sent_at,
        text="hola\x00 mundo\ud800",
    )

    @shape_checked
    def parser(req: InboundRequest) -> Delivery:
        return Delivery(messages=(dirty,))

    (clean,) = parser(request("whatsapp", b"{}")).messages
    assert clean.text is not None and "\x00" not in clean.text and "\ud800" not in clean.text
    assert clean.text == "hola mundo\ufffd"  # NUL dropped, the lone surrogate replaced
    assert parser.__wrapped__(request("whatsapp", b"{}")).messages == (dirty,)
