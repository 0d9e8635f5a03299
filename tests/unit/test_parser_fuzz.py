"""Any bytes or JSON to any webhook parser: a parsed delivery or PayloadError, never a crash."""

from __future__ import annotations

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import samples
from webhooks import rocketchat, twilio, whatsapp
from webhooks.email import mailgun, postmark, sendgrid
from webhooks.inbound import InboundRequest, PayloadError

PARSERS = {
    "whatsapp": (whatsapp.parse, "application/json"),
    "twilio": (twilio.parse, "application/x-www-form-urlencoded"),
    "mailgun": (mailgun.parse, "application/x-www-form-urlencoded"),
    "postmark": (postmark.parse, "application/json"),
    "sendgrid": (sendgrid.parse, samples.SENDGRID_TYPE),
    "rocketchat": (rocketchat.parse, "application/json"),
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)


def only_clean_outcomes(name: str, raw: bytes) -> None:
    parse, content_type = PARSERS[name]
    request = InboundRequest(
        "https://carteras.example.com/x", {"Content-Type": content_type}, raw, content_type
    )
    with contextlib.suppress(PayloadError):
        parse(request)


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), raw=st.binary(max_size=2048))
def test_arbitrary_bytes(name, raw):
    only_clean_outcomes(name, raw)


@FUZZ
@given(name=st.sampled_from(["whatsapp", "postmark", "rocketchat"]), value=json_values)
def test_arbitrary_json(name, value):
    only_clean_outcomes(name, json.dumps(value).encode())


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
@given(
    data=st.data(),
    name=st.sampled_from(["whatsapp-batch.json", "postmark.json", "rocketchat/chat-close.json"]),
)
def test_damaged_real_payloads(data, name):
    document = json.loads(samples.raw(name))
    damaged = data.draw(_mutations(document))
    parser = {"whatsapp-batch.json": "whatsapp", "postmark.json": "postmark"}.get(
        name, "rocketchat"
    )
    only_clean_outcomes(parser, json.dumps(damaged).encode())


@FUZZ
@given(cut=st.integers(0, 1200), junk=st.binary(max_size=64))
def test_damaged_multipart_and_forms(cut, junk):
    for name, parser in (
        ("sendgrid.multipart", "sendgrid"),
        ("mailgun.form", "mailgun"),
        ("twilio-whatsapp.form", "twilio"),
    ):
        raw = samples.raw(name)
        only_clean_outcomes(parser, raw[:cut] + junk + raw[cut:])
