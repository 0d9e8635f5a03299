"""How the pages write numbers, times and channels: as Latin American Spanish (es-419) writes
them, or as the chosen language does, and times on the service's clock (CARTERAS_TIMEZONE).

The template filters are registered here, once, for every template (:func:`init_formats`):
``number``, ``local_time``, ``ago`` and ``channel``; and the templates' ``ngettext`` writes its
count with :func:`number` (so its messages say ``%(num)s``, never ``%(num)s``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from numbers import Number
from typing import Any, cast
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_decimal, get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from jinja2.runtime import Context

from service.domain import audit_text

# Channels as the pages name them (domain/messages.CHANNELS).
CHANNEL_LABELS = {
    "whatsapp": _l("WhatsApp"),
    "email": _l("Correo"),
    "webchat": _l("Chat web"),
    "sms": _l("SMS"),
    "custom": _l("Otro canal"),
}


def number(value: Any) -> str:
    """A count or amount with the language's separators: 12000 -> "12,000" in es-419 (as
    in Mexico; Spain would write "12.000") and in English. Anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, Number):
        return "" if value is None else str(value)
    return str(format_decimal(value))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """flask_babel's ``ngettext``, the count written with :func:`number` (``%(num)s``)."""
    text: str = get_translations().ngettext(singular, plural, num)
    return text % {"num": number(num), **variables}


def words() -> audit_text.Words:
    """The audit's sentences in the page's language, counts written with :func:`number`."""
    return audit_text.Words(gettext=_, ngettext=ngettext)


def zone() -> ZoneInfo:
    tz: ZoneInfo = current_app.config["CARTERAS"].tz
    return tz


def local_time(at: datetime | None) -> str:
    """*at* on the service's clock, to the minute (``2026-11-25 13:57``), as the audit
    writes it (audit_text.local_time); "—" for no time."""
    return "—" if at is None else audit_text.local_time(at, zone())


def ago(at: datetime | None) -> str:
    """ "hace 5 min" within the last day, else "" (the local time says it better)."""
    if at is None:
        return ""
    return audit_text.ago(at, current_app.extensions["ports"].clock.now(), words()) or ""


def channel_label(code: str | None) -> str:
    return str(CHANNEL_LABELS[code]) if code in CHANNEL_LABELS else (code or "—")


def init_formats(app: Flask) -> None:
    """The filters for every template; run after Flask-Babel installed its ``ngettext``."""
    app.add_template_filter(number, "number")
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(ago, "ago")
    app.add_template_filter(channel_label, "channel")
    app.add_template_global(lambda: zone().key, "time_zone")
    babel_ngettext = cast("Callable[..., Any]", app.jinja_env.globals["ngettext"])

    @pass_context
    def counted(context: Context, singular: str, plural: str, num: int, **variables: Any) -> Any:
        variables.setdefault("num", number(num))
        return babel_ngettext(context, singular, plural, num, **variables)

    app.jinja_env.globals["ngettext"] = counted
