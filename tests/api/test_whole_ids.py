"""Ids are whole numbers: a JSON number with a point is refused, never truncated; and the
embedded SQLite file is private to the service's user."""

import os
import stat

import flask
import pytest
from flask_migrate import upgrade

from service.app import create_app
from service.config import Config
from service.extensions import db


@pytest.mark.parametrize("bad", [1.5, 2.0, 1e0, True])
def test_fractional_contact_ids_are_refused(coordinator, make, bad):
    team = make.team()
    cartera = make.cartera("Premium", team)
    make.contact("Ana")  # id 1: 1.5 must not become it
    response = coordinator.post(f"/api/carteras/{cartera}/contacts", {"contact_ids": [bad]})
    assert response.status_code == 422, response.json
    assert "contact_ids" in response.json["error"]["details"]["fields"]
    assert coordinator.get(f"/api/carteras/{cartera}").json["contact_count"] == 0


@pytest.mark.parametrize("field", ["team_id", "agent_id"])
def test_fractional_owner_ids_are_refused(coordinator, make, field):
    team = make.team()
    agent = make.agent("Luis", [team])
    body = {"name": "Premium", "icon": "💎", "team_id": team, "agent_id": agent}
    body[field] = float(body[field]) + 0.5
    response = coordinator.post("/api/carteras", body)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["details"]["fields"]
    assert coordinator.get("/api/carteras").json["total"] == 0


def test_whole_ids_and_query_ids_still_work(coordinator, make):
    team = make.team()
    created = coordinator.post("/api/carteras", {"name": "P", "icon": "💎", "team_id": team})
    assert created.status_code == 201 and created.json["team"]["id"] == team
    listed = coordinator.get("/api/carteras", query_string={"team_id": str(team)})
    assert listed.status_code == 200 and listed.json["total"] == 1
    assert coordinator.get("/api/carteras?team_id=1.5").status_code == 422


def test_embedded_database_file_and_folder_are_private(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(instance))
    old = os.umask(0o022)  # the usual umask would leave a new file 0644
    try:
        app = create_app(Config(testing=True, log_level="WARNING"))
    finally:
        os.umask(old)
    database = instance / "carteras.db"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}"
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600  # born private
    with app.app_context():
        upgrade()
        db.engine.dispose()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600  # SQLite kept the mode


def test_an_existing_world_readable_database_is_made_private(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    (instance / "carteras.db").touch(mode=0o644)
    monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(instance))
    create_app(Config(testing=True, log_level="WARNING"))
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE((instance / "carteras.db").stat().st_mode) == 0o600
