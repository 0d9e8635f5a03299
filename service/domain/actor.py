"""Who is acting: the identity every use case receives and every audit event records."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

Role = Literal["admin", "coordinator", "agent"]
ROLES: Final[tuple[Role, ...]] = ("admin", "coordinator", "agent")


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    role: Role
    agent_id: int | None = None
    request_id: str | None = None
    # Access granted per user (domain/access.py): every cartera, or these ones.
    all_carteras: bool = False
    cartera_ids: frozenset[int] = frozenset()

    @property
    def is_manager(self) -> bool:
        """Admins and coordinators manage the carteras they may see (domain rule 5)."""
        return self.role in ("admin", "coordinator")

    @property
    def sees_all(self) -> bool:
        """Reads every cartera and contact: admins, and users given all carteras."""
        return self.is_admin or self.all_carteras

    @property
    def manages_all(self) -> bool:
        """Creates carteras, teams and agents: admins and coordinators with all carteras."""
        return self.is_manager and self.sees_all

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def with_request(self, request_id: str | None) -> Actor:
        return replace(self, request_id=request_id)


def system_actor(name: str = "system", request_id: str | None = None) -> Actor:
    """The actor for command-line and scheduled work, which runs with admin rights."""
    return Actor(user_id=None, name=name, role="admin", request_id=request_id)
