"""Every rule the domain can raise has its words on the pages (issue 13, item 1): the pages
never show the API's English sentence."""

import re
from pathlib import Path

import pytest

from service.app import create_app
from service.domain.errors import Conflict, Invalid
from service.ui.messages import CODES, RULES, explain, field_messages, say
from tests.conftest import make_config

DOMAIN = Path(__file__).resolve().parents[2] / "service" / "domain"
# Rules built from a pattern in the code (org._check_unique, carteras._apply_owners).
PATTERNS = {
    "team.name_taken",
    "team.rocketchat_department_id_taken",
    "agent.email_taken",
    "agent.rocketchat_user_id_taken",
    "agent.rocketchat_username_taken",
    "team.not_found",
    "agent.not_found",
}
ANY_RULE = re.compile(r'"([a-z_]+\.[a-z_]+)"')


def rules_in_the_domain() -> set[str]:
    found: set[str] = set()
    for path in DOMAIN.glob("*.py"):
        text = path.read_text()
        for call in re.finditer(
            r"(?:rule=|Invalid\.field\(|_Reject\(|BadAddress\(|field_rules\[[^]]+\] = \()"
            r"[^\n]*(?:\n[^\n]*){0,4}",
            text,
        ):
            found.update(m for m in ANY_RULE.findall(call.group(0)) if m.split(".")[0] in PREFIXES)
    return found


PREFIXES = {r.split(".")[0] for r in RULES}


def test_every_rule_the_domain_raises_has_its_words():
    raised = rules_in_the_domain() | PATTERNS
    assert len(raised) > 40, raised  # the scan works
    assert raised - set(RULES) == set()


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_text_takes_its_parameters(rule):
    app = create_app(make_config("sqlite://"))
    params = {
        "max": 120,
        "min": 10,
        "value": "55 12",
        "ref": "CRM-1",
        "name": "Norte",
        "count": 3,
        "carteras": "Premium, Oro",
        "contacts": 2,
        "regions": 1,
        "email": "a@b.mx",
        "zone": "Marte/Olimpo",
        "day": "lun",
    }
    with app.test_request_context():
        text = say(rule, params)
    assert text and "%(" not in text and text != str(CODES["error"])


def test_pages_say_the_rule_not_the_english_sentence():
    app = create_app(make_config("sqlite://"))
    with app.test_request_context():
        taken = Conflict(
            "A cartera named 'Oro' already exists.", rule="cartera.name_taken", name="Oro"
        )
        assert explain(taken) == "Ya existe una cartera llamada «Oro»."
        bad = Invalid.field(
            "phones", "'55' is not a valid phone number", "phone.invalid", value="55"
        )
        assert field_messages(bad) == {"phones": ["«55» no es un teléfono válido."]}
        # a rule raised without its parameters falls back to its kind, never to English
        assert explain(Conflict("x", rule="cartera.name_taken")) == str(CODES["conflict"])
        assert explain(Invalid("English only")) == str(CODES["validation_error"])
