"""Where a routed room goes in Rocket.Chat: pure rules, no database and no server."""

from service.domain import handoffs
from service.domain.ports import Room

BADGE = "💎 Premium"


def room(department: str | None = None, served_by: str | None = None) -> Room:
    return Room(id="r1", new=False, department_id=department, served_by=served_by)


def test_badge_tags_and_display_name():
    assert handoffs.badge("💎", "Premium") == BADGE
    assert handoffs.badge(None, "Premium") == "Premium"
    assert handoffs.tags("Premium", "Norte") == ["cartera:Premium", "equipo:Norte"]
    assert handoffs.tags("Premium", None) == ["cartera:Premium"]
    assert handoffs.tags(None, "Norte") == ["equipo:Norte"]
    name = handoffs.display_name(BADGE, "Lucía")
    assert name == "💎 Premium · Lucía"
    assert handoffs.display_name(BADGE, name) == name  # never twice


def test_the_owner_already_serving_needs_no_forward():
    step = handoffs.to_owner(BADGE, "u-luis", room(served_by="u-luis"))
    assert (step.action, step.record) == ("none", "agent:u-luis")


def test_the_owner_gets_a_forward_with_the_cartera_in_the_comment():
    for current in (None, room(), room(served_by="u-marta")):
        step = handoffs.to_owner(BADGE, "u-luis", current)
        assert (step.action, step.agent_id, step.record) == (
            "forward_agent",
            "u-luis",
            "agent:u-luis",
        )
        assert step.comment == "Cartera 💎 Premium: asignada al dueño de la cartera"


def test_a_room_in_the_teams_department_stays_there():
    step = handoffs.to_team(BADGE, "dep-norte", room("dep-norte", "u-marta"), "owner_offline_team")
    assert (step.action, step.record) == ("none", "department:dep-norte")


def test_the_owner_who_did_not_answer_gives_the_room_back_to_the_queue():
    step = handoffs.to_team(
        BADGE, "dep-norte", room("dep-norte", "u-luis"), "owner_timeout_team", take_from="u-luis"
    )
    assert (step.action, step.department_id) == ("return_to_queue", "dep-norte")
    assert step.comment == "Cartera 💎 Premium: asignada al equipo (el dueño no la tomó a tiempo)"


def test_someone_else_serving_inside_the_department_is_left_alone():
    step = handoffs.to_team(
        BADGE, "dep-norte", room("dep-norte", "u-marta"), "owner_timeout_team", take_from="u-luis"
    )
    assert step.action == "none"


def test_a_room_elsewhere_is_forwarded_to_the_department():
    for current in (None, room(), room("dep-sur", "u-pablo")):
        step = handoffs.to_team(BADGE, "dep-norte", current, "team_only_cartera")
        assert (step.action, step.department_id) == ("forward_department", "dep-norte")
        assert step.comment.endswith("(cartera compartida del equipo)")


def test_an_unknown_reason_is_shown_as_is():
    step = handoffs.to_team(BADGE, "dep-norte", None, "something_new")
    assert step.comment.endswith("(something_new)")
