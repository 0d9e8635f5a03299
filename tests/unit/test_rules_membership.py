"""Membership rules (service/domain/membership.py) one by one: a contact is in at most one
cartera; adding, moving and removing each answer and audit exactly what happened, and a
refused change says why, with the details a caller needs to fix it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.domain import audit, membership
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


def test_removing_several_contacts_answers_each_once_in_the_order_given(session, ids):
    add(session, ids, "premium", "ana", "beto", "caro")
    done = membership.remove_contacts(
        session, CARLA, ids["premium"], [ids["caro"], ids["ana"], ids["caro"]]
    )
    assert done == [ids["caro"], ids["ana"]]
    assert [cartera_of(session, ids[c]) for c in ("ana", "beto", "caro")] == [
        None,
        ids["premium"],
        None,
    ]
    removed = events(session, "contact_removed")
    assert [(e[0], e[2], e[4]) for e in removed] == [
        ("Carla", ids["premium"], ids["caro"]),
        ("Carla", ids["premium"], ids["ana"]),
    ]


def test_removing_several_contacts_is_all_or_nothing(session, ids):
    add(session, ids, "premium", "ana", "caro")
    session.commit()
    with pytest.raises(NotFound) as caught:
        membership.remove_contacts(
            session, CARLA, ids["premium"], [ids["ana"], ids["beto"], ids["caro"]]
        )
    assert caught.value.rule == "membership.not_member"
    assert caught.value.details == {"contact_id": ids["beto"], "cartera_id": ids["premium"]}
    session.rollback()  # what the API and the pages do with a refused request
    assert cartera_of(session, ids["ana"]) == cartera_of(session, ids["caro"]) == ids["premium"]
    assert events(session, "contact_removed") == []
    with pytest.raises(Forbidden):
        membership.remove_contacts(
            session, Actor(user_id=3, name="Luis", role="agent"), ids["premium"], [ids["ana"]]
        )


# ---- undo -----------------------------------------------------------------------------------
ROSA = Actor(user_id=42, name="Rosa", role="coordinator", all_carteras=True)
EXPIRED = "Nothing to undo: the change is not yours or is too old."
CHANGED = "The contact changed cartera since; undoing would overwrite that change."


def event_ids(session, actor=CARLA) -> list[int]:
    """The membership events *actor* wrote, oldest first."""
    session.flush()
    return list(
        session.scalars(
            sa.select(AuditEvent.id)
            .where(
                AuditEvent.event.in_(membership.MEMBERSHIP_EVENTS),
                AuditEvent.actor_user_id.is_(None)
                if actor.user_id is None
                else AuditEvent.actor_user_id == actor.user_id,
            )
            .order_by(AuditEvent.id)
        )
    )


def undo_events(session) -> list[tuple]:
    session.flush()
    rows = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
    return [
        (e.actor_name, e.event, e.resource_id, e.related_id, e.before, e.after, e.details)
        for e in rows
        if e.details is not None
    ]


def test_undo_puts_each_contact_back_as_one_audited_change_per_event(session, ids):
    add(session, ids, "premium", "ana", "caro")
    earlier = event_ids(session)
    add(session, ids, "norte", "ana", "beto", move=True)  # ana moved, beto added
    membership.remove_contact(session, CARLA, ids["premium"], ids["caro"])
    moved, added, removed = event_ids(session)[len(earlier) :]
    # the newest first; an id given twice counts once
    assert membership.undo(session, CARLA, [moved, added, removed, moved]) == 3
    assert [cartera_of(session, ids[c]) for c in ("ana", "beto", "caro")] == [
        ids["premium"],
        None,
        ids["premium"],
    ]
    assert undo_events(session) == [
        (
            "Carla",
            "contact_added",
            ids["premium"],
            ids["caro"],
            {"contact_id": ids["caro"], "cartera_id": None, "cartera": None},
            {"contact_id": ids["caro"], "cartera_id": ids["premium"], "cartera": "Premium"},
            {"undo_of": removed},
        ),
        (
            "Carla",
            "contact_removed",
            ids["norte"],
            ids["beto"],
            {"contact_id": ids["beto"], "cartera_id": ids["norte"], "cartera": "Norte"},
            {"contact_id": ids["beto"], "cartera_id": None, "cartera": None},
            {"undo_of": added},
        ),
        (
            "Carla",
            "contact_moved",
            ids["premium"],
            ids["ana"],
            {"contact_id": ids["ana"], "cartera_id": ids["norte"], "cartera": "Norte"},
            {"contact_id": ids["ana"], "cartera_id": ids["premium"], "cartera": "Premium"},
            {"undo_of": moved},
        ),
    ]


def test_two_changes_of_one_contact_are_undone_newest_first(session, ids):
    add(session, ids, "premium", "ana")
    add(session, ids, "norte", "ana", move=True)
    first, second = event_ids(session)
    assert membership.undo(session, CARLA, [first, second]) == 2
    assert cartera_of(session, ids["ana"]) is None
    assert [(e[1], e[6]) for e in undo_events(session)] == [
        ("contact_moved", {"undo_of": second}),
        ("contact_removed", {"undo_of": first}),
    ]


def expired(session, actor, wanted, **kw) -> NotFound:
    with pytest.raises(NotFound) as caught:
        membership.undo(session, actor, wanted, **kw)
    assert (caught.value.rule, caught.value.message) == ("undo.expired", EXPIRED)
    assert caught.value.params == {}
    return caught.value


def test_only_the_authors_own_recent_membership_changes_can_be_undone(session, ids):
    add(session, ids, "premium", "ana")
    (mine,) = event_ids(session)
    add(session, ids, "norte", "beto", actor=ROSA)
    (hers,) = event_ids(session, ROSA)
    other = audit.record(session, CARLA, "updated", "cartera", ids["premium"], "P")
    session.flush()
    # another person's change, or a change that is not a membership one: nothing is undone
    assert expired(session, CARLA, [hers]).details == {"event_ids": [hers]}
    assert expired(session, CARLA, [mine, hers, mine]).details == {"event_ids": [mine, hers]}
    expired(session, CARLA, [other.id])
    expired(session, CARLA, [404])
    assert expired(session, CARLA, []).details == {"event_ids": []}
    assert cartera_of(session, ids["ana"]) == ids["premium"]
    assert cartera_of(session, ids["beto"]) == ids["norte"]
    # the command line's actor has no user: its changes are nobody's to undo
    tool = Actor(user_id=None, name="system", role="admin")
    add(session, ids, "premium", "caro", actor=tool)
    (tools,) = event_ids(session, tool)
    expired(session, tool, [tools])
    assert cartera_of(session, ids["caro"]) == ids["premium"]
    with pytest.raises(Forbidden):
        membership.undo(session, Actor(user_id=41, name="Carla", role="agent"), [mine])


def test_a_change_can_be_undone_for_five_minutes(session, ids):
    add(session, ids, "premium", "ana")
    (event_id,) = event_ids(session)
    at = session.get(AuditEvent, event_id).occurred_at
    limit = at + timedelta(seconds=membership.UNDO_SECONDS)
    assert membership.UNDO_SECONDS == 300
    expired(session, CARLA, [event_id], now=limit + timedelta(seconds=1))
    assert cartera_of(session, ids["ana"]) == ids["premium"]
    assert membership.undo(session, CARLA, [event_id], now=limit) == 1
    assert cartera_of(session, ids["ana"]) is None


def test_undo_refuses_a_contact_changed_since_all_or_nothing(session, ids):
    add(session, ids, "premium", "ana", "beto")
    ana_added, beto_added = event_ids(session)
    add(session, ids, "norte", "ana", move=True, actor=ROSA)
    session.commit()
    # beto's (the newest) is undone first, then ana's is refused: the request changes nothing
    with pytest.raises(Conflict) as caught:
        membership.undo(session, CARLA, [ana_added, beto_added])
    assert (caught.value.rule, caught.value.message) == ("undo.changed_since", CHANGED)
    assert caught.value.params == {}
    assert caught.value.details == {"event_id": ana_added, "contact_id": ids["ana"]}
    session.rollback()
    assert cartera_of(session, ids["beto"]) == ids["premium"]
    assert cartera_of(session, ids["ana"]) == ids["norte"]
    assert undo_events(session) == []


def test_undo_refuses_a_contact_the_actor_may_no_longer_see(session, ids):
    both = frozenset({ids["premium"], ids["norte"]})
    rosa = Actor(user_id=42, name="Rosa", role="coordinator", cartera_ids=both)
    add(session, ids, "premium", "ana", actor=rosa)
    add(session, ids, "norte", "ana", move=True, actor=rosa)
    _, moved = event_ids(session, rosa)
    rosa = Actor(user_id=42, name="Rosa", role="coordinator", cartera_ids={ids["premium"]})
    with pytest.raises(Conflict) as caught:
        membership.undo(session, rosa, [moved])
    assert caught.value.details == {"event_id": moved, "contact_id": ids["ana"]}
    assert cartera_of(session, ids["ana"]) == ids["norte"]


def test_undo_of_an_event_without_its_contact_or_its_old_cartera(session, ids):
    # written by hand (every membership event records both): no contact means a conflict
    # (contact 0 is nobody), no "before" means the contact had no cartera
    assert session.get(Contact, 1).cartera_id is None
    blank = audit.record(session, CARLA, "contact_added", "cartera", 1, "x")
    session.flush()
    with pytest.raises(Conflict) as caught:
        membership.undo(session, CARLA, [blank.id])
    assert caught.value.details == {"event_id": blank.id, "contact_id": 0}
    beto = session.get(Contact, ids["beto"])
    premium = session.get(Cartera, ids["premium"])
    membership.assign(session, CARLA, beto, premium, move=False, audit_event=False)
    after = {"contact_id": ids["beto"], "cartera_id": ids["premium"]}
    bare = audit.record(
        session, CARLA, "contact_added", "cartera", ids["premium"], "Premium", after=after
    )
    session.flush()
    assert membership.undo(session, CARLA, [bare.id]) == 1
    assert cartera_of(session, ids["beto"]) is None


def test_the_changes_of_a_request_are_its_authors_membership_events(session, ids):
    carla = CARLA.with_request("req-1")
    add(session, ids, "premium", "ana", actor=CARLA.with_request("req-0"))
    add(session, ids, "premium", "beto", "caro", actor=carla)
    add(session, ids, "norte", "ana", move=True, actor=carla)
    audit.record(session, carla, "updated", "cartera", ids["premium"], "Premium")
    add(session, ids, "norte", "beto", move=True, actor=ROSA.with_request("req-1"))
    add(session, ids, "norte", "caro", move=True)  # no request id
    mine = event_ids(session)[1:4]
    assert sorted(membership.changes_of_request(session, carla)) == mine
    assert membership.changes_of_request(session, CARLA) == []
    assert membership.changes_of_request(session, CARLA.with_request("req-9")) == []
