"""Regions (issue 12; DESIGN.md "Access"): Norte, Centro, Sur grouped in macroregions; a
cartera's default region, a contact's own region, filters that include a macroregion's
regions, the CSV column, and who may change them."""

import csv
import io

import pytest
from sqlalchemy import select

from service.domain.actor import system_actor
from service.domain.tokens import issue_token
from service.domain.users import set_access
from service.extensions import db
from service.models import AuditEvent
from tests.conftest import Api

ADMIN = system_actor("tests")


@pytest.fixture
def geo(coordinator):
    """Macroregion Pacífico with Norte and Sur; Centro on its own."""
    pacifico = coordinator.post("/api/regions", {"name": "Pacífico"}).json["id"]
    norte = coordinator.post("/api/regions", {"name": "Norte", "parent_id": pacifico}).json["id"]
    sur = coordinator.post("/api/regions", {"name": "Sur", "parent_id": pacifico}).json["id"]
    centro = coordinator.post("/api/regions", {"name": "Centro"}).json["id"]
    return {"pacifico": pacifico, "norte": norte, "sur": sur, "centro": centro}


def names(api, path):
    return sorted(item["name"] for item in api.get(path).json["items"])


def test_create_read_rename_and_delete_a_region(coordinator, geo):
    region = coordinator.get(f"/api/regions/{geo['norte']}").json
    assert region["name"] == "Norte" and region["parent"] == {
        "id": geo["pacifico"],
        "name": "Pacífico",
    }
    assert names(coordinator, "/api/regions") == ["Centro", "Norte", "Pacífico", "Sur"]
    assert names(coordinator, f"/api/regions?parent_id={geo['pacifico']}") == ["Norte", "Sur"]
    assert names(coordinator, "/api/regions?q=NOR") == ["Norte"]
    renamed = coordinator.patch(f"/api/regions/{geo['centro']}", {"name": "Bajío"})
    assert renamed.status_code == 200 and renamed.json["name"] == "Bajío"
    assert coordinator.delete(f"/api/regions/{geo['centro']}").status_code == 204
    assert coordinator.get(f"/api/regions/{geo['centro']}").status_code == 404
    with coordinator.client.application.app_context():
        events = [
            (e.event, e.resource_name, e.before, e.after)
            for e in db.session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.resource_type == "region", AuditEvent.resource_id == geo["centro"]
                )
                .order_by(AuditEvent.id)
            )
        ]
    assert events == [
        ("created", "Centro", None, {"name": "Centro", "parent_id": None, "parent": None}),
        ("updated", "Bajío", {"name": "Centro"}, {"name": "Bajío"}),
        ("deleted", "Bajío", {"name": "Bajío", "parent_id": None, "parent": None}, None),
    ]
    listed = coordinator.get("/api/audit?resource_type=region").json
    assert listed["total"] == 6  # four created, one renamed, one deleted


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "  norte "}, 409, None),  # names ignore case and spacing
        ({"name": ""}, 422, "name"),
        ({"name": "x" * 81}, 422, "name"),
        ({"name": "Oeste", "parent_id": 999999}, 422, "parent_id"),
    ],
)
def test_bad_regions_are_refused_with_the_field(coordinator, geo, body, status, field):
    response = coordinator.post("/api/regions", body)
    assert response.status_code == status, response.json
    if field:
        assert field in response.json["error"]["details"]["fields"]
    else:
        assert response.json["error"]["details"]["existing_id"] == geo["norte"]


def test_macroregions_are_one_level(coordinator, geo):
    # a region of a macroregion cannot hold regions; a macroregion cannot join another
    under_norte = coordinator.post("/api/regions", {"name": "Sonora", "parent_id": geo["norte"]})
    assert under_norte.status_code == 422
    moved = coordinator.patch(f"/api/regions/{geo['pacifico']}", {"parent_id": geo["centro"]})
    assert moved.status_code == 422
    itself = coordinator.patch(f"/api/regions/{geo['centro']}", {"parent_id": geo["centro"]})
    assert itself.status_code == 422
    assert coordinator.get(f"/api/regions/{geo['pacifico']}").json["parent_id"] is None


def test_a_region_in_use_is_not_deleted(coordinator, make, geo):
    cartera = make.cartera("Premium", make.team(), region_id=geo["norte"])
    refused = coordinator.delete(f"/api/regions/{geo['norte']}")
    assert refused.status_code == 409
    assert refused.json["error"]["details"]["carteras"] == 1
    assert (
        coordinator.delete(f"/api/regions/{geo['pacifico']}").json["error"]["details"]["regions"]
        == 2
    )
    coordinator.patch(f"/api/carteras/{cartera}", {"region_id": None})
    contact = make.contact("Ana", None)
    coordinator.patch(f"/api/contacts/{contact}", {"region_id": geo["norte"]})
    assert coordinator.delete(f"/api/regions/{geo['norte']}").json["error"]["details"] == {
        "region_id": geo["norte"],
        "carteras": 0,
        "contacts": 1,
        "regions": 0,
    }


def test_only_managers_with_every_cartera_change_regions_everyone_reads(
    app, client, make, coordinator, geo, as_agent
):
    ids = make.org_chart()  # also regions Zona Norte and Zona Sur
    every = ["Centro", "Norte", "Pacífico", "Sur", "Zona Norte", "Zona Sur"]
    agent = as_agent(ids["luis"])
    with app.app_context():
        issued = issue_token(db.session(), ADMIN, name="sup", role="coordinator")
        set_access(
            db.session(),
            ADMIN,
            issued.token.user_id,
            all_carteras=False,
            cartera_ids=[ids["premium"]],
        )
        db.session.commit()
    supervisor = Api(client, issued.secret)
    for api in (agent, supervisor):
        assert names(api, "/api/regions") == every
        assert api.post("/api/regions", {"name": "Oeste"}).status_code == 403
        assert api.patch(f"/api/regions/{geo['norte']}", {"name": "N"}).status_code == 403
        assert api.delete(f"/api/regions/{geo['centro']}").status_code == 403
    assert names(coordinator, "/api/regions") == every
    # a supervisor sets the region of a cartera it holds
    changed = supervisor.patch(f"/api/carteras/{ids['premium']}", {"region_id": geo["sur"]})
    assert changed.status_code == 200 and changed.json["region"] == "Sur"


def test_carteras_take_a_region_by_id_or_name_and_filter_by_macroregion(coordinator, make, geo):
    team = make.team()
    by_id = coordinator.post(
        "/api/carteras", {"name": "A", "icon": "💎", "team_id": team, "region_id": geo["norte"]}
    )
    assert by_id.status_code == 201
    assert (by_id.json["region_id"], by_id.json["region"]) == (geo["norte"], "Norte")
    by_name = coordinator.post(
        "/api/carteras", {"name": "B", "icon": "💎", "team_id": team, "region": "sur"}
    )
    assert by_name.json["region_id"] == geo["sur"]
    coordinator.post(
        "/api/carteras", {"name": "C", "icon": "💎", "team_id": team, "region_id": geo["centro"]}
    )
    coordinator.post("/api/carteras", {"name": "D", "icon": "💎", "team_id": team})
    unknown = coordinator.post(
        "/api/carteras", {"name": "E", "icon": "💎", "team_id": team, "region": "Atlántida"}
    )
    assert unknown.status_code == 422 and "region" in unknown.json["error"]["details"]["fields"]
    assert names(coordinator, f"/api/carteras?region_id={geo['pacifico']}") == ["A", "B"]
    assert names(coordinator, f"/api/carteras?region_id={geo['norte']}") == ["A"]
    assert names(coordinator, f"/api/carteras?region_id={geo['centro']}") == ["C"]
    assert coordinator.get("/api/carteras?region_id=999999").status_code == 422
    # the list search finds a cartera by its region's name, also after a rename
    assert names(coordinator, "/api/carteras?q=norte") == ["A"]
    coordinator.patch(f"/api/regions/{geo['norte']}", {"name": "Noroeste"})
    assert names(coordinator, "/api/carteras?q=noroeste") == ["A"]
    assert coordinator.get(f"/api/carteras/{by_id.json['id']}").json["region"] == "Noroeste"


def test_a_contact_takes_its_carteras_region_unless_it_has_its_own(coordinator, make, geo):
    team = make.team()
    norte = make.cartera("Norte VIP", team, region_id=geo["norte"])
    centro = make.cartera("Centro VIP", team, region_id=geo["centro"])
    ana = make.contact("Ana", norte)
    beto = make.contact("Beto", norte)
    assert coordinator.get(f"/api/contacts/{ana}").json["region"] == {
        "id": geo["norte"],
        "name": "Norte",
        "inherited": True,
    }
    own = coordinator.patch(f"/api/contacts/{beto}", {"region_id": geo["sur"]}).json
    assert own["region_id"] == geo["sur"] and own["region"]["inherited"] is False
    # moving: an explicit region stays, an inherited one follows the new cartera
    for contact in (ana, beto):
        coordinator.patch(f"/api/contacts/{contact}", {"cartera_id": centro, "move": True})
    assert coordinator.get(f"/api/contacts/{ana}").json["region"]["name"] == "Centro"
    assert coordinator.get(f"/api/contacts/{beto}").json["region"]["name"] == "Sur"
    # a changed cartera default reaches the contacts that follow it at once
    coordinator.patch(f"/api/carteras/{centro}", {"region_id": geo["norte"]})
    assert coordinator.get(f"/api/contacts/{ana}").json["region"]["name"] == "Norte"
    eva = make.contact("Eva", None)
    assert coordinator.get(f"/api/contacts/{eva}").json["region"] is None
    assert names(coordinator, f"/api/contacts?region_id={geo['pacifico']}") == ["Ana", "Beto"]
    assert names(coordinator, f"/api/contacts?region_id={geo['sur']}") == ["Beto"]
    assert names(coordinator, f"/api/contacts?region_id={geo['centro']}") == []
    # back to following the cartera
    coordinator.patch(f"/api/contacts/{beto}", {"region_id": None})
    assert coordinator.get(f"/api/contacts/{beto}").json["region"]["name"] == "Norte"
    refused = coordinator.patch(f"/api/contacts/{beto}", {"region_id": 999999})
    assert refused.status_code == 422


def test_a_contacts_region_change_is_audited(coordinator, make, geo):
    ana = make.contact("Ana", None)
    coordinator.patch(f"/api/contacts/{ana}", {"region_id": geo["norte"]})
    (event,) = coordinator.get(
        f"/api/audit?resource_type=contact&resource_id={ana}&event=updated"
    ).json["items"]
    assert event["before"] == {"region_id": None, "region": None}
    assert event["after"] == {"region_id": geo["norte"], "region": "Norte"}


CSV_HEADER = "name,phones,emails,external_ref,company,cartera,region\n"


def post_csv(api, text):
    return api.client.post(
        "/api/contacts/import",
        data=text.encode(),
        content_type="text/csv",
        headers={"Authorization": f"Bearer {api.token}"},
    )


def test_csv_region_column_round_trips(coordinator, make, geo):
    team = make.team()
    make.cartera("Norte VIP", team, region_id=geo["norte"])
    report = post_csv(
        coordinator,
        CSV_HEADER
        + "Ana,,,R-1,,Norte VIP,\n"  # follows the cartera
        + "Beto,,,R-2,,Norte VIP,sur\n"  # its own region
        + "Caro,,,R-3,,Norte VIP,NORTE\n"  # the cartera's own: follows it
        + "Dani,,,R-4,,,Centro\n"  # no cartera, its own region
        + "Eva,,,R-5,,,Atlántida\n",  # unknown: the row is refused
    ).json
    assert (report["created"], report["rejected"]) == (4, 1), report
    assert report["errors"] == [
        {"row": 6, "field": "region", "message": "no region named 'Atlántida'"}
    ]
    regions = {
        c["name"]: (c["region_id"], c["region"]["name"] if c["region"] else None)
        for c in coordinator.get("/api/contacts?per_page=50").json["items"]
    }
    assert regions == {
        "Ana": (None, "Norte"),
        "Beto": (geo["sur"], "Sur"),
        "Caro": (None, "Norte"),
        "Dani": (geo["centro"], "Centro"),
    }
    exported = coordinator.get("/api/contacts/export").get_data(as_text=True)
    rows = {r["name"]: r["region"] for r in csv.DictReader(io.StringIO(exported))}
    assert rows == {"Ana": "Norte", "Beto": "Sur", "Caro": "Norte", "Dani": "Centro"}
    again = post_csv(coordinator, exported).json
    assert again["unchanged"] == 4 and again["rejected"] == 0, again
    # an empty cell leaves the region; a new one changes it
    changed = post_csv(coordinator, CSV_HEADER + "Beto,,,R-2,,,\nDani,,,R-4,,,Sur\n").json
    assert (changed["unchanged"], changed["updated"]) == (1, 1), changed
    assert coordinator.get("/api/contacts?q=Dani").json["items"][0]["region"]["name"] == "Sur"
