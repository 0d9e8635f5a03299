"""Membership rules (service/domain/membership.py) one by one: a contact is in at most one
cartera; adding, moving and removing each answer and audit exactly what happened, and a
refused change says why, with the details a caller needs to fix it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.domain import membership
from service.domain.actor import Actor
from service.domain.errors import Conflict, Forbidden, Invalid, NotFound
from service.extensions import db
from service.models import AuditEvent, Cartera, Contact

CARLA = Actor(user_id=41, name="Carla", role="coordinator", all_carteras=True)


@pytest.fixture
def ids(make):
    team = make.team("Norte")
    return {
        "premium": make.cartera("Premium", team),
        "norte": make.cartera("Norte", team),
        "ana": make.contact("Ana", None),
        "beto": make.contact("Beto", None),
        "caro": make.contact("Caro", None),
    }


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session()
        db.session.rollback()


def events(session, event: str) -> list[tuple]:
    session.flush()
    rows = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)
    )
    return [
        (
            e.actor_name,
            e.resource_type,
            e.resource_id,
            e.resource_name,
            e.related_id,
            e.related_name,
            e.before,
            e.after,
        )
        for e in rows
    ]


def cartera_of(session, contact_id: int) -> int | None:
    return session.scalar(sa.select(Contact.cartera_id).where(Contact.id == contact_id))


def add(session, ids, cartera: str, *contacts: str, move=False, actor=CARLA):
    return membership.add_contacts(
        session, actor, ids[cartera], [ids[c] for c in contacts], move=move
    )


# ---- adding ---------------------------------------------------------------------------------
def test_adding_answers_what_changed_for_each_contact(session, ids):
    result = add(session, ids, "premium", "caro", "ana", "caro")
    assert (result.added, result.moved, result.unchanged) == ([ids["ana"], ids["caro"]], [], [])
    assert cartera_of(session, ids["ana"]) == cartera_of(session, ids["caro"]) == ids["premium"]
    again = add(session, ids, "premium", "ana", "beto")
    assert (again.added, again.moved, again.unchanged) == ([ids["beto"]], [], [ids["ana"]])


def test_the_answer_lists_contacts_by_id_whatever_the_storage_order(session, ids, make):
    # rows changed since they were written may come back in another order (PostgreSQL keeps
    # an updated row after the others): the answer does not depend on it
    later = [make.contact(name, None) for name in ("Dora", "Elsa")]
    session.get(Contact, ids["ana"]).notes = "changed"
    session.get(Contact, ids["beto"]).notes = "changed"
    session.flush()
    result = add(session, ids, "premium", "beto", "ana", "caro")
    assert result.added == [ids["ana"], ids["beto"], ids["caro"]]
    result = membership.add_contacts(session, CARLA, ids["norte"], [*later, ids["ana"]], move=True)
    assert (result.added, result.moved) == (later, [ids["ana"]])


def test_adding_is_audited_on_the_cartera_with_the_contact(session, ids):
    add(session, ids, "premium", "ana")
    assert events(session, "contact_added") == [
        (
            "Carla",
            "cartera",
            ids["premium"],
            "Premium",
            ids["ana"],
            "Ana",
            {"contact_id": ids["ana"], "cartera_id": None, "cartera": None},
            {"contact_id": ids["ana"], "cartera_id": ids["premium"], "cartera": "Premium"},
        )
    ]
    # the contact object in the session already shows its cartera
    ana = session.get(Contact, ids["ana"])
    assert (ana.cartera_id, ana.cartera.name) == (ids["premium"], "Premium")


def test_adding_none_or_unknown_contacts_is_invalid(session, ids):
    with pytest.raises(Invalid) as empty:
        membership.add_contacts(session, CARLA, ids["premium"], [], move=False)
    assert empty.value.message == "contact_ids: must list at least one contact id"
    assert empty.value.field_rules == {"contact_ids": ("membership.none_chosen", {})}
    assert empty.value.details == {"fields": {"contact_ids": ["must list at least one contact id"]}}
    with pytest.raises(Invalid) as unknown:
        membership.add_contacts(session, CARLA, ids["premium"], [404, ids["ana"], 403], move=False)
    assert unknown.value.message == "contact_ids: unknown contacts [403, 404]"
    assert unknown.value.details == {
        "fields": {"contact_ids": ["unknown contacts [403, 404]"]},
        "missing_contact_ids": [403, 404],
    }
    assert cartera_of(session, ids["ana"]) is None  # all or nothing


def test_contacts_the_actor_may_not_see_are_unknown_to_it(session, ids):
    add(session, ids, "norte", "beto")
    rosa = Actor(
        user_id=42, name="Rosa", role="coordinator", cartera_ids=frozenset({ids["premium"]})
    )
    with pytest.raises(Invalid) as caught:
        add(session, ids, "premium", "ana", "beto", actor=rosa)
    assert caught.value.details["missing_contact_ids"] == [ids["beto"]]
    with pytest.raises(NotFound):  # nor a cartera it may not see
        add(session, ids, "norte", "ana", actor=rosa)
    with pytest.raises(Forbidden):
        add(session, ids, "premium", "ana", actor=Actor(user_id=3, name="Luis", role="agent"))


# ---- moving ---------------------------------------------------------------------------------
CONFLICT = 'Some contacts already belong to another cartera; send "move": true to move them.'


def test_a_contact_in_another_cartera_is_moved_only_when_asked(session, ids):
    add(session, ids, "premium", "ana", "beto")
    with pytest.raises(Conflict) as caught:
        add(session, ids, "norte", "caro", "beto", "ana")
    assert (caught.value.rule, caught.value.message) == ("membership.in_other", CONFLICT)
    assert caught.value.details == {
        "contacts": [
            {
                "contact_id": ids[name],
                "contact_name": name.title(),
                "cartera_id": ids["premium"],
                "cartera_name": "Premium",
            }
            for name in ("ana", "beto")
        ]
    }
    assert cartera_of(session, ids["caro"]) is None  # all or nothing
    moved = add(session, ids, "norte", "caro", "ana", move=True)
    assert (moved.added, moved.moved, moved.unchanged) == ([ids["caro"]], [ids["ana"]], [])
    assert cartera_of(session, ids["ana"]) == ids["norte"]
    assert cartera_of(session, ids["beto"]) == ids["premium"]


def test_a_move_is_audited_on_the_new_cartera_with_both_carteras(session, ids):
    add(session, ids, "premium", "ana")
    add(session, ids, "norte", "ana", move=True)
    assert events(session, "contact_moved") == [
        (
            "Carla",
            "cartera",
            ids["norte"],
            "Norte",
            ids["ana"],
            "Ana",
            {"contact_id": ids["ana"], "cartera_id": ids["premium"], "cartera": "Premium"},
            {"contact_id": ids["ana"], "cartera_id": ids["norte"], "cartera": "Norte"},
        )
    ]


def test_assigning_one_contact(session, ids):
    ana = session.get(Contact, ids["ana"])
    premium, norte = session.get(Cartera, ids["premium"]), session.get(Cartera, ids["norte"])
    assert membership.assign(session, CARLA, ana, None, move=False) == "unchanged"
    assert membership.assign(session, CARLA, ana, premium, move=False) == "added"
    assert membership.assign(session, CARLA, ana, premium, move=False) == "unchanged"
    with pytest.raises(Conflict) as caught:
        membership.assign(session, CARLA, ana, norte, move=False)
    assert (caught.value.rule, caught.value.message) == ("membership.in_other", CONFLICT)
    assert caught.value.details["contacts"][0]["cartera_name"] == "Premium"
    assert membership.assign(session, CARLA, ana, norte, move=True) == "moved"
    # taking it out needs no move
    assert membership.assign(session, CARLA, ana, None, move=False) == "removed"
    assert ana.cartera_id is None
    # and an unaudited change (the caller audits it its own way)
    assert membership.assign(session, CARLA, ana, premium, move=False, audit_event=False)
    assert [len(events(session, e)) for e in ("contact_added", "contact_moved")] == [1, 1]
    assert len(events(session, "contact_removed")) == 1


def test_a_change_made_meanwhile_by_another_request_is_a_conflict(app, session, ids):
    add(session, ids, "premium", "ana")
    session.commit()
    ana = session.get(Contact, ids["ana"])  # read here; changed below by someone else
    with sa.orm.Session(db.engine) as other:
        other.execute(
            sa.update(Contact).where(Contact.id == ids["ana"]).values(cartera_id=ids["norte"])
        )
        other.commit()
    with pytest.raises(Conflict) as caught:
        membership.assign(session, CARLA, ana, None, move=True)
    assert caught.value.message == (
        "The contact's cartera was changed by another request; reload and try again."
    )
    assert caught.value.rule == "membership.raced"
    # where the contact is now
    assert caught.value.details == {
        "contacts": [
            {
                "contact_id": ids["ana"],
                "contact_name": "Ana",
                "cartera_id": ids["norte"],
                "cartera_name": "Norte",
            }
        ]
    }
    session.rollback()
    assert cartera_of(session, ids["ana"]) == ids["norte"]


# ---- removing -------------------------------------------------------------------------------
def test_removing_a_contact_is_audited_on_the_cartera_it_left(session, ids):
    add(session, ids, "premium", "ana")
    membership.remove_contact(session, CARLA, ids["premium"], ids["ana"])
    assert cartera_of(session, ids["ana"]) is None
    assert events(session, "contact_removed") == [
        (
            "Carla",
            "cartera",
            ids["premium"],
            "Premium",
            ids["ana"],
            "Ana",
            {"contact_id": ids["ana"], "cartera_id": ids["premium"], "cartera": "Premium"},
            {"contact_id": ids["ana"], "cartera_id": None, "cartera": None},
        )
    ]


@pytest.mark.parametrize("contact", ["ana", "beto", "unknown"])
def test_removing_a_contact_that_is_not_in_the_cartera(session, ids, contact):
    add(session, ids, "norte", "beto")
    contact_id = ids.get(contact, 404)
    with pytest.raises(NotFound) as caught:
        membership.remove_contact(session, CARLA, ids["premium"], contact_id)
    assert caught.value.message == f"Contact {contact_id} is not in cartera {ids['premium']}."
    assert caught.value.rule == "membership.not_member"
    assert caught.value.details == {"contact_id": contact_id, "cartera_id": ids["premium"]}
    assert cartera_of(session, ids["beto"]) == ids["norte"]
