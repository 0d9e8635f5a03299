"""The audit log in words (service/domain/audit_text.py): each event's sentence, its fields as
"label: before → after", names instead of ids, and nothing that crashes on odd events.
No database: events are built in memory, names are given as the page's look-up finds them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.domain import audit_text
from service.domain.audit_text import Names, Words, describe
from service.models import AuditEvent

NAMES = Names(
    by_kind={
        "team": {1: "Norte", 2: "Sur"},
        "agent": {5: "Luis", 6: "Marta"},
        "cartera": {10: "Recuperación", 11: "Clientes Oro", 12: "Premium"},
        "region": {3: "Centro"},
        "user": {7: "Pedro", 8: "Carla"},
        "contact": {20: "Gabriela Sánchez"},
    },
    icons={10: "🔥", 11: "👑", 12: "💎"},
)


def event(name: str, resource_type: str, resource_id: int | None, resource_name: str, **kw):
    return AuditEvent(
        actor_user_id=kw.pop("actor_user_id", 8),
        actor_name=kw.pop("actor_name", "Carla"),
        event=name,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
        related_name=kw.pop("related_name", None),
        related_id=kw.pop("related_id", None),
        before=kw.pop("before", None),
        after=kw.pop("after", None),
        details=kw.pop("details", None),
    )


def summary(e: AuditEvent, names: Names = NAMES) -> str:
    return describe(e, names).summary


def lines(e: AuditEvent, names: Names = NAMES) -> list[str]:
    return describe(e, names).lines()


CARTERA = {
    "name": "Premium",
    "icon": "💎",
    "color": None,
    "region_id": 3,
    "description": None,
    "team_id": 1,
    "agent_id": 5,
    "active": True,
    "owner_timeout_seconds": 0,
    "business_hours": None,
    "region": "Centro",
}


def test_a_move_names_the_contact_and_both_carteras_with_their_icons():
    moved = event(
        "contact_moved",
        "cartera",
        11,
        "Clientes Oro",
        related_name="Gabriela Sánchez",
        related_id=20,
        before={"contact_id": 20, "cartera_id": 10, "cartera": "Recuperación"},
        after={"contact_id": 20, "cartera_id": 11, "cartera": "Clientes Oro"},
    )
    text = describe(moved, NAMES)
    assert text.summary == "Carla movió a Gabriela Sánchez de 🔥 Recuperación a 👑 Clientes Oro"
    assert text.changes == ()  # the sentence says it all
    assert text.names["cartera"] == {"10": "Recuperación", "11": "Clientes Oro"}


def test_a_move_keeps_the_names_of_the_time_when_a_cartera_is_gone():
    moved = event(
        "contact_moved",
        "cartera",
        11,
        "Oro viejo",
        related_name="Gabriela",
        related_id=99,
        before={"contact_id": 99, "cartera_id": 404, "cartera": "Borrada"},
        after={"contact_id": 99, "cartera_id": 11, "cartera": "Oro viejo"},
        details={"source": "import"},
    )
    assert summary(moved) == "Carla movió a Gabriela de Borrada a 👑 Oro viejo (importación CSV)"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("contact_added", "Carla agregó a Gabriela Sánchez a la cartera 💎 Premium"),
        ("contact_removed", "Carla quitó a Gabriela Sánchez de la cartera 💎 Premium"),
    ],
)
def test_membership_sentences(name, expected):
    e = event(
        name,
        "cartera",
        12,
        "Premium",
        related_name="Gabriela Sánchez",
        related_id=20,
        before={"contact_id": 20, "cartera_id": None, "cartera": None},
        after={"contact_id": 20, "cartera_id": 12, "cartera": "Premium"},
    )
    assert summary(e) == expected


def test_a_cartera_deleted_with_its_contacts_says_so():
    removed = event(
        "contact_removed",
        "cartera",
        12,
        "Premium",
        related_name="Ana",
        related_id=1,
        details={"reason": "cartera_deleted"},
    )
    assert summary(removed).endswith("al eliminar la cartera")
    deleted = event(
        "deleted", "cartera", 404, "Vieja", before=CARTERA, details={"contacts_unassigned": 3}
    )
    assert summary(deleted) == "Carla eliminó la cartera Vieja; 3 contactos quedaron sin cartera"
    one = event("deleted", "cartera", 404, "Vieja", details={"contacts_unassigned": 1})
    assert summary(one) == "Carla eliminó la cartera Vieja; 1 contacto quedó sin cartera"


def test_a_created_cartera_names_its_team_and_agent():
    created = event("created", "cartera", 12, "Premium", after=CARTERA)
    text = describe(created, NAMES)
    assert text.summary == "Carla creó la cartera 💎 Premium (equipo Norte, agente Luis)"
    assert "Equipo: Norte" in text.lines() and "Agente: Luis" in text.lines()
    assert "Región: Centro" in text.lines() and "Activa: sí" in text.lines()
    assert not any(line.startswith("Nombre") for line in text.lines())  # in the sentence
    assert text.names["team"] == {"1": "Norte"} and text.names["agent"] == {"5": "Luis"}
    shared = event("created", "cartera", 12, "Premium", after={**CARTERA, "agent_id": None})
    assert summary(shared) == "Carla creó la cartera 💎 Premium (equipo Norte)"


def test_state_changes_read_as_verbs_with_yes_and_no():
    off = event(
        "deactivated", "cartera", 12, "Premium", before={"active": True}, after={"active": False}
    )
    assert summary(off) == "Carla desactivó la cartera 💎 Premium"
    assert lines(off) == ["Activa: sí → no"]
    on = event("activated", "agent", 5, "Luis", before={"active": False}, after={"active": True})
    assert summary(on) == "Carla activó al agente Luis"
    assert lines(on) == ["Activo: no → sí"]


def test_an_update_lists_its_fields_and_shows_each_before_and_after():
    updated = event(
        "updated",
        "cartera",
        12,
        "Premium",
        before={
            "region_id": 3,
            "region": "Centro",
            "agent_id": 5,
            "description": None,
            "owner_timeout_seconds": 0,
            "business_hours": None,
        },
        after={
            "region_id": 4,
            "region": "Sur",
            "agent_id": 6,
            "description": "VIP",
            "owner_timeout_seconds": 150,
            "business_hours": {
                "timezone": "America/Mexico_City",
                "weekly": {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
                | {"sat": [["10:00", "14:00"]]},
            },
        },
    )
    text = describe(updated, NAMES)
    assert text.summary == (
        "Carla cambió la cartera 💎 Premium: región, agente, descripción, espera del dueño, "
        "horario de atención"
    )
    assert text.lines() == [
        "Región: Centro → Sur",
        "Agente: Luis → Marta",
        "Descripción: — → VIP",
        "Espera del dueño: sin límite (el dueño conserva la conversación) → 2 min 30 s; "
        "si el dueño no responde, pasa al equipo",
        "Horario de atención: siempre abierta → lun–vie 09:00–18:00; sáb 10:00–14:00 "
        "(America/Mexico_City)",
    ]


def test_a_rename_is_said_as_one():
    renamed = event(
        "updated", "team", 1, "Norte 2", before={"name": "Norte"}, after={"name": "Norte 2"}
    )
    assert summary(renamed) == "Carla renombró el equipo Norte a Norte 2"
    imported = event(
        "updated",
        "contact",
        20,
        "Gaby Sánchez",
        before={"name": "Gabriela Sánchez"},
        after={"name": "Gaby Sánchez"},
        details={"source": "import", "row": 7},
    )
    assert summary(imported) == (
        "Carla renombró el contacto Gabriela Sánchez a Gaby Sánchez (importación CSV, fila 7)"
    )


def test_contact_values_are_formatted_lists_and_empties():
    updated = event(
        "updated",
        "contact",
        20,
        "Gabriela Sánchez",
        before={"phones": ["+525511111111"], "emails": [], "company": None},
        after={"phones": ["+525511111111", "+525522223333"], "emails": ["g@x.mx"], "company": ""},
    )
    assert lines(updated) == [
        "Teléfonos: +52 55 1111 1111 → +52 55 1111 1111, +52 55 2222 3333",
        "Correos: — → g@x.mx",
    ]  # None → "" reads the same: no line


def test_grants_name_the_carteras_given_and_taken():
    premium, oro, sur = (
        {"id": 12, "name": "Premium"},
        {"id": 11, "name": "Clientes Oro"},
        {"id": 30, "name": "Sur VIP"},
    )
    given = event(
        "updated",
        "user",
        7,
        "Pedro",
        actor_name="Ana",
        before={"all_carteras": False, "carteras": [premium]},
        after={"all_carteras": False, "carteras": [oro, premium, sur]},
        details={"granted": [11, 30], "revoked": []},
    )
    text = describe(given, NAMES)
    assert text.summary == "Ana dio a Pedro acceso a 2 carteras: 👑 Clientes Oro, Sur VIP"
    assert text.lines() == ["Carteras: 💎 Premium → 👑 Clientes Oro, 💎 Premium, Sur VIP"]
    taken = event(
        "updated",
        "user",
        7,
        "Pedro",
        actor_name="Ana",
        before={"all_carteras": False, "carteras": [premium, oro]},
        after={"all_carteras": False, "carteras": [sur]},
    )
    assert summary(taken) == (
        "Ana dio a Pedro acceso a 1 cartera: Sur VIP. "
        "Ana quitó a Pedro el acceso a 2 carteras: 💎 Premium, 👑 Clientes Oro"
    )
    everything = event(
        "updated",
        "user",
        7,
        "Pedro",
        actor_name="Ana",
        before={"all_carteras": False, "carteras": [premium]},
        after={"all_carteras": True, "carteras": [premium]},
    )
    assert summary(everything) == "Ana dio a Pedro acceso a todas las carteras"
    assert lines(everything) == ["Todas las carteras: no → sí"]
    limited = event(
        "updated",
        "user",
        7,
        "Pedro",
        actor_name="Ana",
        before={"all_carteras": True, "carteras": []},
        after={"all_carteras": False, "carteras": [premium]},
    )
    assert summary(limited) == "Ana limitó a Pedro a 1 cartera: 💎 Premium"


def test_users_and_tokens():
    created = event(
        "created",
        "user",
        7,
        "Pedro",
        after={
            "email": "p@x.mx",
            "role": "coordinator",
            "agent_id": None,
            "all_carteras": True,
            "carteras": [],
        },
    )
    assert summary(created) == "Carla creó el usuario Pedro (coordinador)"
    assert "Rol: coordinador" in lines(created)
    password = event("updated", "user", 7, "Pedro", after={"password": "changed"})
    assert summary(password) == "Carla cambió la contraseña de Pedro"
    assert lines(password) == ["Contraseña: cambiada"]
    token = event(
        "created",
        "token",
        3,
        "integración",
        after={"role": "coordinator", "prefix": "crt_ab", "user_id": 7},
    )
    assert summary(token) == "Carla creó el token «integración» para Pedro"
    assert "Usuario: Pedro" in lines(token)
    revoked = event(
        "deleted", "token", 3, "integración", before={"revoked": False}, after={"revoked": True}
    )
    assert summary(revoked) == "Carla revocó el token «integración»"


def test_an_import_counts_its_rows_in_words():
    imported = event(
        "imported",
        "contact",
        None,
        "CSV import",
        after={
            "rows": 120,
            "created": 30,
            "updated": 0,
            "moved": 4,
            "unchanged": 84,
            "rejected": 2,
        },
    )
    assert summary(imported) == (
        "Carla importó un CSV de contactos: 120 filas, 30 nuevos, 4 movidos, 84 sin cambios, "
        "2 rechazados"
    )
    assert lines(imported) == []
    one = event("imported", "contact", None, "CSV import", after={"rows": 1, "created": 1})
    assert summary(one) == "Carla importó un CSV de contactos: 1 fila, 1 nuevo"


def test_a_handover_names_the_carteras_and_both_agents():
    handover = event(
        "handover",
        "agent",
        5,
        "Luis",
        actor_name="Ana",
        before={"agent_id": 5, "cartera_ids": [12, 11]},
        after={"agent_id": 6, "cartera_ids": [12, 11]},
        details={
            "carteras": [{"id": 12, "name": "Premium"}, {"id": 11, "name": "Clientes Oro"}],
            "to_agent_name": "Marta",
            "deactivate_agent": True,
            "open_conversations": "reforward",
        },
    )
    text = describe(handover, NAMES)
    assert text.summary == ("Ana traspasó 2 carteras de Luis a Marta: 💎 Premium, 👑 Clientes Oro")
    assert text.lines() == [
        "Desactivar al agente: sí",
        "Conversaciones abiertas: se reenvían al nuevo dueño",
    ]
    to_team = event(
        "handover",
        "agent",
        5,
        "Luis",
        actor_name="Ana",
        before={"agent_id": 5, "cartera_ids": [12]},
        after={"agent_id": None, "cartera_ids": [12]},
        details={"carteras": [{"id": 12, "name": "Premium"}], "to_agent_name": None},
    )
    assert summary(to_team) == "Ana quitó a Luis la cartera 💎 Premium (queda con su equipo)"


def test_regions_agents_teams_created_and_deleted():
    region = event(
        "created",
        "region",
        3,
        "Centro",
        after={"name": "Centro", "parent_id": 9, "parent": "México"},
    )
    assert summary(region) == "Carla creó la región Centro en México"
    assert lines(region) == ["Macrorregión: México"]
    agent = event(
        "created",
        "agent",
        5,
        "Luis",
        after={
            "name": "Luis",
            "email": "l@x.mx",
            "active": True,
            "team_ids": [1, 2],
            "max_open_chats": None,
        },
    )
    assert summary(agent) == "Carla creó el agente Luis"
    assert "Equipos: Norte, Sur" in lines(agent)
    gone = event(
        "deleted", "team", 1, "Norte", before={"name": "Norte", "rocketchat_department_id": "dep"}
    )
    assert summary(gone) == "Carla eliminó el equipo Norte"
    assert lines(gone) == ["Departamento de Rocket.Chat: dep"]


def test_ids_that_no_longer_exist_show_as_numbers_and_are_not_in_names():
    created = event(
        "created", "cartera", 99, "Nueva", after={**CARTERA, "team_id": 77, "agent_id": None}
    )
    text = describe(created, Names())
    assert text.summary == "Carla creó la cartera 💎 Nueva (equipo #77)"
    assert text.names == {}


@pytest.mark.parametrize(
    "odd",
    [
        event("renamed", "planet", None, None),
        event("updated", "cartera", 12, None, before=None, after=None),
        event(
            "updated",
            "cartera",
            12,
            "P",
            before={"mystery": {"a": [1, True]}},
            after={"mystery": "x"},
        ),
        event("contact_moved", "cartera", None, None, before="not a dict", after=[1, 2]),
        event("imported", "contact", None, None, after={"rows": "many"}),
        event("handover", "agent", 5, "Luis", details={"carteras": "oops"}),
        event("updated", "user", 7, "Pedro", after={"carteras": [1, None], "all_carteras": None}),
        event(
            "created",
            "cartera",
            12,
            "P",
            after={"business_hours": {"weekly": "always"}, "team_id": "x"},
        ),
        event(
            "updated",
            "cartera",
            12,
            "P",
            before={"business_hours": {"weekly": {"mon": "9-5", "xyz": []}}},
            after={"business_hours": {"timezone": "UTC", "weekly": {}}},
        ),
        event("deleted", "inbox", 4, "whatsapp 1", details={"contacts_unassigned": True}),
    ],
)
def test_unknown_or_missing_fields_never_crash_and_never_show_raw_json(odd):
    text = describe(odd, NAMES)
    assert text.summary
    for line in [text.summary, *text.lines()]:
        assert "{" not in line and "[" not in line


def test_unknown_fields_keep_their_key_and_read_plainly():
    e = event(
        "updated", "cartera", 12, "P", before={"mystery": {"a": [1, True]}}, after={"mystery": None}
    )
    assert lines(e) == ["mystery: a: 1, sí → —"]
    assert summary(event("renamed", "planet", 1, "Tierra")) == "Carla: renamed en planet Tierra"


def test_wanted_lists_every_id_to_resolve_once_per_kind():
    events = [
        event("created", "cartera", 12, "Premium", after=CARTERA),
        event(
            "contact_moved",
            "cartera",
            11,
            "Oro",
            related_id=20,
            before={"contact_id": 20, "cartera_id": 10},
            after={"contact_id": 20, "cartera_id": 11},
        ),
        event("updated", "agent", 5, "Luis", before={"team_ids": [1]}, after={"team_ids": [1, 2]}),
        event("updated", "user", 7, "P", after={"carteras": [{"id": 30, "name": "Sur VIP"}]}),
        event("imported", "contact", None, "CSV import", actor_user_id=None),
    ]
    assert audit_text.wanted(events) == {
        "cartera": {10, 11, 12, 30},
        "team": {1, 2},
        "agent": {5},
        "region": {3},
        "user": {7, 8},
        "contact": {20},
    }


def test_another_language_comes_from_the_gettext_given():
    catalog = {
        "%(actor)s desactivó la cartera %(name)s": "%(actor)s deactivated the cartera %(name)s",
        "%(actor)s desactivó %(what)s": "%(actor)s deactivated %(what)s",
        "la cartera %(name)s": "the cartera %(name)s",
        "Activa": "Active",
        "sí": "yes",
        "no": "no",
        "hace %(num)s min": "%(num)s min ago",
    }

    def gettext(text, **variables):
        text = catalog.get(text, text)
        return text % variables if variables else text

    def ngettext(singular, plural, num, **variables):
        text = catalog.get(singular if num == 1 else plural, singular if num == 1 else plural)
        return text % {"num": num, **variables}

    english = Words(gettext=gettext, ngettext=ngettext)
    off = event(
        "deactivated", "cartera", 12, "Premium", before={"active": True}, after={"active": False}
    )
    text = describe(off, NAMES, english)
    assert text.summary == "Carla deactivated the cartera 💎 Premium"
    assert text.lines() == ["Active: yes → no"]
    now = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    assert audit_text.ago(now - timedelta(minutes=5), now, english) == "5 min ago"


def test_local_time_and_how_long_ago():
    mx = ZoneInfo("America/Mexico_City")
    now = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    # 02:30 UTC on the 25th is still the 24th in Mexico City
    assert (
        audit_text.local_time(datetime(2026, 11, 25, 2, 30, tzinfo=UTC), mx) == "2026-11-24 20:30"
    )
    assert (
        audit_text.local_time(datetime(2026, 11, 25, 2, 30), mx) == "2026-11-24 20:30"
    )  # naive = UTC
    assert audit_text.ago(now - timedelta(seconds=20), now) == "hace un momento"
    assert audit_text.ago(now - timedelta(minutes=5), now) == "hace 5 min"
    assert audit_text.ago(now - timedelta(hours=3, minutes=10), now) == "hace 3 h"
    assert audit_text.ago(now - timedelta(days=2), now) is None  # the date says it better
    assert audit_text.ago(now + timedelta(hours=1), now) is None


def test_resource_text_and_labels():
    moved = event(
        "contact_moved", "cartera", 11, "Clientes Oro", related_name="Gabriela", related_id=20
    )
    assert audit_text.resource_text(moved, NAMES) == "cartera 👑 Clientes Oro · Gabriela"
    assert audit_text.event_label("contact_moved") == "Contacto movido"
    assert audit_text.event_label("renamed") == "renamed"
    assert audit_text.type_label("inbox") == "mensaje recibido"
