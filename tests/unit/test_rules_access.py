"""The access rules (service/domain/access.py) one by one: who may change things, and which
carteras, contacts, conversations and audit events each kind of user sees. Each condition
is run against a small world on the database, so a rule that lets one row too many (or too
few) through shows."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from service.domain import access
from service.domain.actor import Actor
from service.domain.errors import Forbidden
from service.extensions import db
from service.models import AuditEvent, Cartera, Contact, Conversation

ADMIN = Actor(user_id=1, name="Ada", role="admin")
COORDINATOR = Actor(user_id=2, name="Carla", role="coordinator")
AGENT = Actor(user_id=3, name="Luis", role="agent", agent_id=7)


# ---- who may change things ------------------------------------------------------------------
def forbidden(check, actor: Actor) -> tuple[str, str, str, dict[str, object]]:
    """The error's kind, the rule it names, its message and details (what the API answers)."""
    with pytest.raises(Forbidden) as caught:
        check(actor)
    error = caught.value
    return error.code, error.rule, error.message, error.details


def test_managers_are_admins_and_coordinators():
    access.require_manager(ADMIN)
    access.require_manager(COORDINATOR)
    assert forbidden(access.require_manager, AGENT) == (
        "forbidden",
        "access.managers_only",
        "This action needs the admin or coordinator role.",
        {"role": "agent"},
    )


def test_all_carteras_needs_a_manager_who_sees_them_all():
    access.require_all_carteras(ADMIN)
    access.require_all_carteras(
        Actor(user_id=2, name="Carla", role="coordinator", all_carteras=True)
    )
    limited = Actor(user_id=2, name="Carla", role="coordinator", cartera_ids=frozenset({1}))
    expected = ("This action needs access to all carteras.", {"role": "coordinator"})
    for actor in (limited, COORDINATOR):
        code, rule, message, details = forbidden(access.require_all_carteras, actor)
        assert (code, rule, message) == ("forbidden", "access.all_carteras_only", expected[0])
        assert details == {**expected[1], "all_carteras": False}
    # an agent is refused as a non-manager first, even one given every cartera to read
    reader = Actor(user_id=3, name="Luis", role="agent", agent_id=7, all_carteras=True)
    assert forbidden(access.require_all_carteras, reader)[1:] == (
        "access.managers_only",
        "This action needs the admin or coordinator role.",
        {"role": "agent"},
    )


def test_admin_only():
    access.require_admin(ADMIN)
    for actor in (COORDINATOR, AGENT):
        assert forbidden(access.require_admin, actor) == (
            "forbidden",
            "access.admins_only",
            "This action needs the admin role.",
            {"role": actor.role},
        )


# ---- what each user sees --------------------------------------------------------------------
@pytest.fixture
def world(app, make):
    """Norte: Luis (owns Premium, and Solo without a team) and Marta; Sur: Pablo (owns Sur
    VIP). Compartida and Sur Común are team-only. One contact per cartera, two without, and
    conversations: open ones served by Luis (Caro, in Sur VIP), routed to Pablo and taken by
    Marta (Gabi) and served by no one (Ana), a closed one Luis served (Fede), and an open
    one with no cartera (Dani)."""
    ids = make.org_chart()
    ids["sur_comun"] = make.cartera("Sur Común", ids["sur"], None, "🌵")
    ids["solo"] = make.cartera("Solo", None, ids["luis"], "🌞")
    ids["fede"] = make.contact("Fede", ids["sur_vip"])
    ids["gabi"] = make.contact("Gabi", ids["sur_comun"])
    ids["hugo"] = make.contact("Hugo", ids["solo"])
    with app.app_context():

        def conversation(
            contact: str, cartera: str | None, agent: str | None, status="open", served_by=None
        ):
            row = Conversation(
                contact_id=ids[contact],
                channel="whatsapp",
                provider="meta",
                thread_key=f"thread-{contact}",
                status=status,
                cartera_id=ids[cartera] if cartera else None,
                agent_id=ids[agent] if agent else None,
                served_by_agent_id=ids[served_by] if served_by else None,
                routed_to="agent" if agent else "team",
                reason="test",
                trace={},
            )
            db.session.add(row)
            db.session.flush()
            ids[f"conv_{contact}"] = row.id

        conversation("caro", "sur_vip", "luis")
        # routed to Pablo, taken by Marta (a team fallback, a transfer)
        conversation("gabi", "sur_comun", "pablo", served_by="marta")
        conversation("ana", "premium", None)
        conversation("fede", "sur_vip", "luis", status="closed")
        conversation("dani", None, None)
        db.session.commit()
    return ids


def agent(ids, name: str, **grants) -> Actor:
    return Actor(user_id=None, name=name, role="agent", agent_id=ids[name.lower()], **grants)


def granted(ids, *names: str) -> frozenset[int]:
    return frozenset(ids[n] for n in names)


def seen(app, model, condition, label):
    with app.app_context():
        return sorted(label(row) for row in db.session.scalars(sa.select(model).where(condition)))


def carteras(app, actor: Actor) -> list[str]:
    return seen(app, Cartera, access.visible_carteras(actor), lambda c: c.name)


def contacts(app, actor: Actor) -> list[str]:
    return seen(app, Contact, access.visible_contacts(actor), lambda c: c.name)


def conversations(app, actor: Actor) -> list[str]:
    # each test conversation is named by its contact's thread
    return seen(app, Conversation, access.visible_conversations(actor), lambda c: c.thread_key[7:])


ALL_CARTERAS = ["Compartida", "Premium", "Solo", "Sur Común", "Sur VIP"]
ALL_CONTACTS = ["Ana", "Beto", "Caro", "Dani", "Eva", "Fede", "Gabi", "Hugo"]
ALL_CONVERSATIONS = ["ana", "caro", "dani", "fede", "gabi"]


def test_admins_and_users_with_all_carteras_see_everything(app, world):
    reader = Actor(user_id=None, name="Luis", role="agent", agent_id=world["luis"])
    for actor in (
        ADMIN,
        Actor(user_id=2, name="Carla", role="coordinator", all_carteras=True),
        Actor(user_id=3, name="Lector", role="agent", all_carteras=True),
        replace(reader, all_carteras=True),
    ):
        assert carteras(app, actor) == ALL_CARTERAS
        assert contacts(app, actor) == ALL_CONTACTS
        assert conversations(app, actor) == ALL_CONVERSATIONS


def test_a_coordinator_sees_its_granted_carteras_only(app, world):
    rosa = Actor(user_id=2, name="Rosa", role="coordinator", cartera_ids=granted(world, "sur_vip"))
    assert carteras(app, rosa) == ["Sur VIP"]
    # their contacts, and those without a cartera
    assert contacts(app, rosa) == ["Caro", "Dani", "Eva", "Fede"]
    # conversations routed under them, and those routed with no cartera
    assert conversations(app, rosa) == ["caro", "dani", "fede"]
    assert carteras(app, COORDINATOR) == []
    assert contacts(app, COORDINATOR) == ["Dani", "Eva"]
    assert conversations(app, COORDINATOR) == ["dani"]


def test_a_coordinator_linked_to_an_agent_does_not_see_as_that_agent(app, world):
    both = Actor(user_id=2, name="Carla", role="coordinator", agent_id=world["luis"])
    assert carteras(app, both) == []
    assert contacts(app, both) == ["Dani", "Eva"]
    assert conversations(app, both) == ["dani"]


def test_an_agent_sees_its_own_its_teams_shared_and_its_granted_carteras(app, world):
    assert carteras(app, agent(world, "Luis")) == ["Compartida", "Premium", "Solo"]
    # never a colleague's own cartera, nor another team's shared one
    assert carteras(app, agent(world, "Marta")) == ["Compartida"]
    assert carteras(app, agent(world, "Pablo")) == ["Sur Común", "Sur VIP"]
    marta = agent(world, "Marta", cartera_ids=granted(world, "sur_vip"))
    assert carteras(app, marta) == ["Compartida", "Sur VIP"]


def test_an_agent_sees_the_contacts_of_the_open_conversations_it_serves(app, world):
    # Caro is in Sur VIP (Pablo's) but Luis serves her open conversation; Fede's is closed
    assert contacts(app, agent(world, "Luis")) == ["Ana", "Beto", "Caro", "Dani", "Eva", "Hugo"]
    assert conversations(app, agent(world, "Luis")) == ["ana", "caro", "dani"]
    # ... and those it took from a colleague while they are open
    assert contacts(app, agent(world, "Marta")) == ["Beto", "Dani", "Eva", "Gabi"]
    assert conversations(app, agent(world, "Marta")) == ["dani", "gabi"]
    assert contacts(app, agent(world, "Pablo")) == ["Caro", "Dani", "Eva", "Fede", "Gabi"]


def test_an_agent_actor_without_an_agent_sees_its_grants_only(app, world):
    nobody = Actor(user_id=9, name="Nadie", role="agent")
    assert carteras(app, nobody) == []
    assert contacts(app, nobody) == ["Dani", "Eva"]
    assert conversations(app, nobody) == ["dani"]
    reader = Actor(user_id=9, name="Nadie", role="agent", cartera_ids=granted(world, "premium"))
    assert carteras(app, reader) == ["Premium"]
    assert contacts(app, reader) == ["Ana", "Dani", "Eva"]
    assert conversations(app, reader) == ["ana", "dani"]


def test_the_audit_log_of_a_limited_coordinator(app, world):
    def events(actor):
        return seen(
            app,
            AuditEvent,
            access.visible_audit(actor),
            lambda e: (e.resource_type, e.event, e.resource_name, e.related_name or ""),
        )

    rosa = Actor(user_id=2, name="Rosa", role="coordinator", cartera_ids=granted(world, "sur_vip"))
    # the cartera's own events, and those of the contacts Rosa sees; no team, agent, or other
    # cartera's events
    assert events(rosa) == [
        ("cartera", "contact_added", "Sur VIP", "Caro"),
        ("cartera", "contact_added", "Sur VIP", "Fede"),
        ("cartera", "created", "Sur VIP", ""),
        ("contact", "created", "Caro", ""),
        ("contact", "created", "Dani", ""),
        ("contact", "created", "Eva", ""),
        ("contact", "created", "Fede", ""),
    ]
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    assert len(events(ADMIN)) == total
