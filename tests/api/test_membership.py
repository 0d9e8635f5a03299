"""A contact belongs to at most one cartera; adding it elsewhere is a recorded move."""

import pytest


@pytest.fixture
def two(make):
    team = make.team("Norte")
    return {"premium": make.cartera("Premium", team), "norte": make.cartera("Norte", team)}


def test_add_contacts_to_a_cartera(coordinator, make, two):
    ana, beto = make.contact("Ana"), make.contact("Beto")
    response = coordinator.post(
        f"/api/carteras/{two['premium']}/contacts", {"contact_ids": [ana, beto, ana]}
    )
    assert response.status_code == 200
    assert response.json == {"added": [ana, beto], "moved": [], "unchanged": []}
    members = coordinator.get(f"/api/carteras/{two['premium']}/contacts").json
    assert [c["name"] for c in members["items"]] == ["Ana", "Beto"]
    assert members["items"][0]["cartera"]["name"] == "Premium"
    again = coordinator.post(f"/api/carteras/{two['premium']}/contacts", {"contact_ids": [ana]})
    assert again.json["unchanged"] == [ana]


def test_contact_in_another_cartera_conflicts_and_nothing_changes(coordinator, make, two):
    ana = make.contact("Ana", two["premium"])
    free = make.contact("Libre")
    response = coordinator.post(
        f"/api/carteras/{two['norte']}/contacts", {"contact_ids": [free, ana]}
    )
    assert response.status_code == 409
    assert response.json["error"]["details"]["contacts"] == [
        {
            "contact_id": ana,
            "contact_name": "Ana",
            "cartera_id": two["premium"],
            "cartera_name": "Premium",
        }
    ]
    # all or nothing: the free contact was not added either
    assert coordinator.get(f"/api/contacts/{free}").json["cartera_id"] is None


def test_move_is_explicit_and_audited(coordinator, make, two):
    ana = make.contact("Ana", two["premium"])
    response = coordinator.post(
        f"/api/carteras/{two['norte']}/contacts", {"contact_ids": [ana], "move": True}
    )
    assert response.status_code == 200
    assert response.json["moved"] == [ana]
    assert coordinator.get(f"/api/contacts/{ana}").json["cartera"]["name"] == "Norte"
    moved = coordinator.get("/api/audit?event=contact_moved").json["items"]
    assert len(moved) == 1
    assert moved[0]["resource_name"] == "Norte" and moved[0]["related_name"] == "Ana"
    assert moved[0]["before"]["cartera"] == "Premium" and moved[0]["after"]["cartera"] == "Norte"
    counts = {c["name"]: c["contact_count"] for c in coordinator.get("/api/carteras").json["items"]}
    assert counts == {"Norte": 1, "Premium": 0}


def test_remove_a_contact(coordinator, make, two):
    ana = make.contact("Ana", two["premium"])
    assert coordinator.delete(f"/api/carteras/{two['premium']}/contacts/{ana}").status_code == 204
    assert coordinator.get(f"/api/contacts/{ana}").json["cartera_id"] is None
    assert coordinator.get("/api/audit?event=contact_removed").json["total"] == 1
    # not (or no longer) a member: 404
    again = coordinator.delete(f"/api/carteras/{two['premium']}/contacts/{ana}")
    assert again.status_code == 404


def test_unknown_or_empty_contact_ids(coordinator, two):
    unknown = coordinator.post(f"/api/carteras/{two['premium']}/contacts", {"contact_ids": [404]})
    assert unknown.status_code == 422
    assert unknown.json["error"]["details"]["missing_contact_ids"] == [404]
    empty = coordinator.post(f"/api/carteras/{two['premium']}/contacts", {"contact_ids": []})
    assert empty.status_code == 422
    wrong_type = coordinator.post(
        f"/api/carteras/{two['premium']}/contacts", {"contact_ids": "1,2"}
    )
    assert wrong_type.status_code == 422


def test_inactive_cartera_keeps_its_contacts(coordinator, make, two):
    ana = make.contact("Ana", two["premium"])
    coordinator.post(f"/api/carteras/{two['premium']}/deactivate")
    assert coordinator.get(f"/api/contacts/{ana}").json["cartera"] == {
        "id": two["premium"],
        "name": "Premium",
        "icon": "💎",
        "color": None,
        "active": False,
    }
