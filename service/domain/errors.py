"""Errors the domain raises; the edges map each to one HTTP status and one JSON error body.

Each error names the rule it enforces (``rule``, a stable dotted code such as
``cartera.name_taken``) and its parameters (``params``): the API answers them with its
English message, and the pages say the rule in Spanish (service/ui/messages.py) instead of
showing the English sentence. Field errors carry one rule per field the same way
(``field_rules``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base of every rule violation. ``code`` is the stable machine-readable kind (the
    HTTP-level one); ``rule`` the stable name of the rule broken, ``params`` its values."""

    code = "error"

    def __init__(
        self,
        message: str,
        details: Mapping[str, Any] | None = None,
        /,
        *,
        rule: str | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.rule = rule or self.code
        self.params = params
        # one (rule, params) per bad field, for errors about fields
        self.field_rules: dict[str, tuple[str, dict[str, Any]]] = {}


class Invalid(DomainError):
    """Input that is well formed but breaks a rule (unknown team, unparsable phone...)."""

    code = "validation_error"

    @classmethod
    def field(cls, name: str, message: str, rule: str | None = None, /, **params: Any) -> Invalid:
        """One bad field: *message* in English for the API, *rule* and *params* for the
        pages (``field_rules[name]``)."""
        error = cls(f"{name}: {message}", {"fields": {name: [message]}}, rule=rule, **params)
        if rule is not None:
            error.field_rules[name] = (rule, params)
        return error


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
