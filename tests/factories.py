"""Test data made through the domain's own use cases (so it is validated and audited like
real data). Each call runs in its own app context and returns the new row's id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from service.domain import carteras, contacts, org, regions, tokens, users
from service.domain.actor import system_actor
from service.extensions import db

ACTOR = system_actor("factory")


class Make:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def _run(self, create: Callable[[], Any]) -> Any:
        with self.app.app_context():
            row = create()
            db.session.commit()
            return row.id

    def team(self, name: str = "Ventas", **fields: Any) -> int:
        return self._run(lambda: org.create_team(db.session(), ACTOR, {"name": name, **fields}))

    def agent(self, name: str = "Luis", team_ids: list[int] | None = None, **fields: Any) -> int:
        data = {"name": name, "team_ids": team_ids or [], **fields}
        return self._run(lambda: org.create_agent(db.session(), ACTOR, data))

    def region(self, name: str = "Norte", parent_id: int | None = None) -> int:
        """The region named *name*, created when missing."""

        def find_or_create() -> Any:
            found = regions.find_by_name(db.session(), name)
            return found or regions.create_region(
                db.session(), ACTOR, {"name": name, "parent_id": parent_id}
            )

        return self._run(find_or_create)

    def cartera(
        self,
        name: str = "Premium",
        team_id: int | None = None,
        agent_id: int | None = None,
        icon: str = "💎",
        **fields: Any,
    ) -> int:
        data = {"name": name, "icon": icon, "team_id": team_id, "agent_id": agent_id, **fields}
        if isinstance(data.get("region"), str):  # a region by name: made when missing
            self.region(data["region"])
        return self._run(lambda: carteras.create_cartera(db.session(), ACTOR, data))

    def contact(
        self, name: str = "Juan Pérez", cartera_id: int | None = None, **fields: Any
    ) -> int:
        data = {"name": name, "cartera_id": cartera_id, **fields}
        return self._run(lambda: contacts.create_contact(db.session(), ACTOR, data, region="MX"))

    def token(self, role: str, name: str | None = None, agent_id: int | None = None) -> str:
        with self.app.app_context():
            issued = tokens.issue_token(
                db.session(),
                system_actor("tests"),
                name=name or f"{role}-user",
                role=role,
                agent_id=agent_id,
            )
            db.session.commit()
            return issued.secret

    def user(
        self, email: str, role: str, agent_id: int | None = None, password: str = "una-clave-segura"
    ) -> int:
        return self._run(
            lambda: users.create_user(
                db.session(),
                system_actor("tests"),
                email=email,
                name=email.split("@")[0],
                role=role,
                password=password,
                agent_id=agent_id,
            )
        )

    def org_chart(self) -> dict[str, int]:
        """Two teams, three agents, three carteras and five contacts, for access tests.

        Norte team: luis (owns Premium), marta; Sur team: pablo (owns Sur VIP). Compartida is
        a Norte team-only cartera. Regions Zona Norte and Zona Sur (unused). Contacts: ana
        (Premium), beto (Compartida), caro (Sur VIP), dani and eva (no cartera).
        """
        ids: dict[str, int] = {}
        ids["norte"] = self.team("Norte", rocketchat_department_id="dep-norte")
        ids["sur"] = self.team("Sur", rocketchat_department_id="dep-sur")
        ids["zona_norte"] = self.region("Zona Norte")
        ids["zona_sur"] = self.region("Zona Sur")
        ids["luis"] = self.agent("Luis", [ids["norte"]], email="luis@example.com")
        ids["marta"] = self.agent("Marta", [ids["norte"]], email="marta@example.com")
        ids["pablo"] = self.agent("Pablo", [ids["sur"]], email="pablo@example.com")
        ids["premium"] = self.cartera("Premium", ids["norte"], ids["luis"], "💎")
        ids["compartida"] = self.cartera("Compartida", ids["norte"], None, "🤝")
        ids["sur_vip"] = self.cartera("Sur VIP", ids["sur"], ids["pablo"], "⭐")
        ids["ana"] = self.contact("Ana", ids["premium"], phones=["+52 55 1111 1111"])
        ids["beto"] = self.contact("Beto", ids["compartida"], phones=["+52 55 2222 2222"])
        ids["caro"] = self.contact("Caro", ids["sur_vip"], emails=["caro@example.com"])
        ids["dani"] = self.contact("Dani", None, phones=["+52 55 4444 4444"])
        ids["eva"] = self.contact("Eva", None, external_ref="CRM-5")
        return ids
