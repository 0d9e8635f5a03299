"""Errors the domain raises; the edges map each to one HTTP status and one JSON error body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base of every rule violation. ``code`` is the stable machine-readable name."""

    code = "error"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class Invalid(DomainError):
    """Input that is well formed but breaks a rule (unknown team, unparsable phone...)."""

    code = "validation_error"

    @classmethod
    def field(cls, name: str, message: str) -> Invalid:
        return cls(f"{name}: {message}", {"fields": {name: [message]}})


class NotFound(DomainError):
    """The resource does not exist, or the actor may not know that it exists."""

    code = "not_found"


class Conflict(DomainError):
    """The change collides with the current state (duplicate, contact in another cartera...)."""

    code = "conflict"


class Forbidden(DomainError):
    """The actor's role does not allow the action."""

    code = "forbidden"


class Unauthenticated(DomainError):
    """No valid credentials."""

    code = "unauthorized"
