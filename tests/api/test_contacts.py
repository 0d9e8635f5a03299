"""Contacts: phones in any written form, emails, search, assignment through PATCH."""

import pytest


def test_create_normalizes_phones_and_emails(coordinator):
    response = coordinator.post(
        "/api/contacts",
        {
            "name": "Juan Pérez",
            "phones": ["+52 55 1234 5678", "55 1234 5678", "5215587654321"],
            "emails": ["Juan@Example.com"],
            "external_ref": "CRM-1",
            "company": "ACME",
            "notes": "prefiere WhatsApp",
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["phones"] == ["+525512345678", "+525587654321"]
    assert body["emails"] == ["juan@example.com"]
    assert body["cartera"] is None and body["external_ref"] == "CRM-1"


def test_bad_phone_or_email_names_the_entry(coordinator):
    response = coordinator.post(
        "/api/contacts", {"name": "X", "phones": ["55 1234 5678", "no es"], "emails": ["a@"]}
    )
    assert response.status_code == 422
    fields = response.json["error"]["details"]["fields"]
    assert set(fields) == {"phones[1]", "emails[0]"}
    assert coordinator.get("/api/contacts").json["total"] == 0


def test_one_phone_never_points_at_two_contacts(coordinator, make):
    ana = make.contact("Ana", phones=["+52 55 1234 5678"], emails=["ana@example.com"])
    for payload in (
        {"name": "Otra", "phones": ["55 1234 5678"]},
        {"name": "Otra", "phones": ["5215512345678"]},
        {"name": "Otra", "emails": ["ANA@example.com"]},
    ):
        response = coordinator.post("/api/contacts", payload)
        assert response.status_code == 409
        assert response.json["error"]["details"]["identities"][0]["contact_id"] == ana


def test_external_ref_is_unique(coordinator, make):
    make.contact("Ana", external_ref="CRM-1")
    assert (
        coordinator.post("/api/contacts", {"name": "B", "external_ref": "CRM-1"}).status_code == 409
    )


@pytest.mark.parametrize(
    "query",
    [
        "juan",
        "PÉREZ",
        "perez",
        "JUAN PEREZ",
        "55 1234 5678",
        "+52 55 1234 5678",
        "(55) 1234-5678",
        "5215512345678",
        "1234",
        "juan@exa",
        "CRM-7",
        "acme",
    ],
)
def test_search_finds_a_contact_by_any_handle(coordinator, make, query):
    juan = make.contact(
        "Juan Pérez",
        phones=["+52 55 1234 5678"],
        emails=["juan@example.com"],
        external_ref="CRM-7",
        company="ACME",
    )
    make.contact("Otra Persona", phones=["+52 33 9999 0000"], emails=["otra@example.org"])
    found = coordinator.get("/api/contacts", query_string={"q": query}).json
    assert [c["id"] for c in found["items"]] == [juan]


def test_search_escapes_wildcards(coordinator, make):
    make.contact("100% real")
    make.contact("Otro")
    assert coordinator.get("/api/contacts", query_string={"q": "%"}).json["total"] == 1
    assert coordinator.get("/api/contacts", query_string={"q": "_"}).json["total"] == 0


def test_filters_by_cartera_and_unassigned(coordinator, make):
    team = make.team()
    cartera = make.cartera(team_id=team)
    ana = make.contact("Ana", cartera)
    beto = make.contact("Beto")
    assert [
        c["id"] for c in coordinator.get(f"/api/contacts?cartera_id={cartera}").json["items"]
    ] == [ana]
    assert [c["id"] for c in coordinator.get("/api/contacts?unassigned=true").json["items"]] == [
        beto
    ]
    assert [c["id"] for c in coordinator.get("/api/contacts?unassigned=false").json["items"]] == [
        ana
    ]


def test_patch_replaces_lists_and_keeps_the_rest(coordinator, make):
    ana = make.contact("Ana", phones=["55 1111 1111"], emails=["ana@example.com"], company="ACME")
    response = coordinator.patch(
        f"/api/contacts/{ana}", {"phones": ["55 2222 2222", "55 1111 1111"]}
    )
    assert response.status_code == 200
    assert response.json["phones"] == ["+525511111111", "+525522222222"]
    assert response.json["emails"] == ["ana@example.com"] and response.json["company"] == "ACME"
    cleared = coordinator.patch(f"/api/contacts/{ana}", {"emails": [], "company": None})
    assert cleared.json["emails"] == [] and cleared.json["company"] is None
    # the freed email can now go to someone else
    assert (
        coordinator.post("/api/contacts", {"name": "B", "emails": ["ana@example.com"]}).status_code
        == 201
    )
    events = coordinator.get(
        f"/api/audit?resource_type=contact&resource_id={ana}&event=updated"
    ).json
    assert events["items"][-1]["after"] == {"phones": ["+525511111111", "+525522222222"]}


def test_patch_cartera_adds_moves_with_flag_and_removes(coordinator, make):
    team = make.team()
    premium, norte = make.cartera("Premium", team), make.cartera("Norte", team)
    ana = make.contact("Ana")
    assert (
        coordinator.patch(f"/api/contacts/{ana}", {"cartera_id": premium}).json["cartera_id"]
        == premium
    )
    refused = coordinator.patch(f"/api/contacts/{ana}", {"cartera_id": norte})
    assert refused.status_code == 409
    moved = coordinator.patch(f"/api/contacts/{ana}", {"cartera_id": norte, "move": True})
    assert moved.json["cartera_id"] == norte
    assert (
        coordinator.patch(f"/api/contacts/{ana}", {"cartera_id": None}).json["cartera_id"] is None
    )
    events = [e["event"] for e in coordinator.get("/api/audit?resource_type=cartera").json["items"]]
    assert events[:3] == ["contact_removed", "contact_moved", "contact_added"]
    unknown = coordinator.patch(f"/api/contacts/{ana}", {"cartera_id": 999})
    assert unknown.status_code == 422


def test_create_straight_into_a_cartera_is_audited_as_an_add(coordinator, make):
    cartera = make.cartera(team_id=make.team())
    response = coordinator.post("/api/contacts", {"name": "Ana", "cartera_id": cartera})
    assert response.json["cartera"]["id"] == cartera
    added = coordinator.get("/api/audit?event=contact_added").json["items"]
    assert added[0]["related_name"] == "Ana"


def test_delete_contact(coordinator, make):
    ana = make.contact("Ana", phones=["55 1111 1111"])
    assert coordinator.delete(f"/api/contacts/{ana}").status_code == 204
    assert coordinator.get(f"/api/contacts/{ana}").status_code == 404
    # its phone is free again
    assert (
        coordinator.post("/api/contacts", {"name": "B", "phones": ["55 1111 1111"]}).status_code
        == 201
    )
    deleted = coordinator.get("/api/audit?event=deleted").json["items"][0]
    assert deleted["before"]["phones"] == ["+525511111111"]
