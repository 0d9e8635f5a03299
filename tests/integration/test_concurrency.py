"""Races between requests end in one consistent state, never two assignments."""

import threading

import pytest
import sqlalchemy as sa

from service.extensions import db
from service.models import AuditEvent, Contact


def race(app, token, calls):
    """Run each (method, path, json) at the same moment from its own thread and client."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, method, path, body):
        client = app.test_client()
        barrier.wait()
        response = client.open(
            path, method=method, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        results[index] = response.status_code

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.parametrize("rounds", [15])
def test_same_contact_added_to_two_carteras_at_once(app, backend, make, rounds):
    team = make.team()
    norte, sur = make.cartera("Norte", team), make.cartera("Sur", team)
    token = make.token("coordinator", "Carla")
    # PostgreSQL: the loser's compare-and-set UPDATE waits for the winner's row lock, then
    # matches no row -> 409. SQLite has one writer: the loser may be told to retry (503).
    loser = {409} if backend.name == "postgresql" else {409, 503}
    for n in range(rounds):
        contact = make.contact(f"Cliente {n}")
        statuses = race(
            app,
            token,
            [
                ("POST", f"/api/carteras/{norte}/contacts", {"contact_ids": [contact]}),
                ("POST", f"/api/carteras/{sur}/contacts", {"contact_ids": [contact]}),
            ],
        )
        assert sorted(statuses)[0] == 200 and sorted(statuses)[1] in loser, statuses
        with app.app_context():
            assigned = db.session.scalar(sa.select(Contact.cartera_id).where(Contact.id == contact))
            winner = norte if statuses[0] == 200 else sur
            assert assigned == winner
            added = db.session.scalar(
                sa.select(sa.func.count(AuditEvent.id)).where(
                    AuditEvent.event == "contact_added", AuditEvent.related_name == f"Cliente {n}"
                )
            )
            assert added == 1


def test_same_team_name_created_twice_at_once(app, backend, make):
    token = make.token("coordinator", "Carla")
    statuses = race(app, token, [("POST", "/api/teams", {"name": "Ventas"})] * 2)
    assert 201 in statuses and len(set(statuses)) == 2, statuses
    with app.app_context():
        from service.models import Team

        assert db.session.scalar(sa.select(sa.func.count(Team.id))) == 1
