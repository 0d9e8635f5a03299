"""The domain's rules in Spanish (issue 13, item 1): the domain raises a stable ``rule`` with
its ``params`` (service/domain/errors.py) and an English message for the API; the pages say
the rule with these texts, next to the field it concerns. A rule missing here falls back to
its kind (``code``), never to the English sentence."""

from __future__ import annotations

from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from service.domain.errors import DomainError

RULES: dict[str, LazyString] = {
    # fields
    "field.empty": _l("Este dato es obligatorio."),
    "field.too_long": _l("Use como máximo %(max)s caracteres."),
    "address.invalid": _l("No es un teléfono ni un correo válido."),
    "phone.invalid": _l("«%(value)s» no es un teléfono válido."),
    "email.invalid": _l("«%(value)s» no es un correo válido."),
    "addresses.invalid": _l("Algunos teléfonos o correos no son válidos."),
    # contacts
    "contact.not_found": _l("Ese contacto no existe o no está a su alcance."),
    "contact.address_taken": _l("Ese teléfono o correo ya pertenece a otro contacto."),
    "contact.ref_taken": _l("Otro contacto ya tiene la referencia «%(ref)s»."),
    # carteras
    "cartera.not_found": _l("Esa cartera no existe o no está a su alcance."),
    "cartera.unknown_name": _l("No hay una cartera llamada «%(name)s»."),
    "cartera.name_taken": _l("Ya existe una cartera llamada «%(name)s»."),
    "cartera.color": _l("Use un color como #1E88E5."),
    "cartera.owner_required": _l("Elija un equipo, un agente o ambos."),
    "cartera.agent_team": _l("Ese agente no está en el equipo elegido."),
    "cartera.has_contacts": _l(
        "La cartera tiene %(count)s contactos: desactívela para conservarlos."
    ),
    # regions
    "region.not_found": _l("Esa región no existe."),
    "region.unknown_name": _l("No hay una región llamada «%(name)s»."),
    "region.name_taken": _l("Ya existe una región llamada «%(name)s»."),
    "region.parent_itself": _l("Una región no puede contenerse a sí misma."),
    "region.parent_nested": _l(
        "Elija una región principal: una región que ya pertenece a otra no agrupa regiones."
    ),
    "region.is_macroregion": _l("Esta región agrupa otras regiones: no puede pertenecer a otra."),
    "region.in_use": _l(
        "La región se usa en %(carteras)s carteras, %(contacts)s contactos y %(regions)s "
        "regiones; cámbielas de región antes de eliminarla."
    ),
    # teams and agents
    "team.not_found": _l("Ese equipo no existe."),
    "team.name_taken": _l("Ya existe un equipo con ese nombre."),
    "team.rocketchat_department_id_taken": _l(
        "Otro equipo ya usa ese departamento de Rocket.Chat."
    ),
    "team.owns_carteras": _l(
        "El equipo tiene %(count)s carteras: páselas a otro equipo antes de eliminarlo."
    ),
    "agent.not_found": _l("Ese agente no existe."),
    "agent.inactive": _l("Ese agente está inactivo."),
    "agent.email_taken": _l("Otro agente ya tiene ese correo."),
    "agent.rocketchat_user_id_taken": _l("Otro agente ya tiene ese usuario de Rocket.Chat."),
    "agent.rocketchat_username_taken": _l("Otro agente ya tiene ese usuario de Rocket.Chat."),
    "agent.owns_carteras": _l(
        "El agente tiene %(count)s carteras: traspáselas o desactívelo en lugar de eliminarlo."
    ),
    "agent.has_users": _l(
        "El agente tiene cuentas de usuario: desactívelo en lugar de eliminarlo."
    ),
    "agent.would_strand": _l(
        "El agente es dueño de %(count)s carteras de un equipo que dejaría: traspáselas antes."
    ),
    # users and tokens
    "user.not_found": _l("Ese usuario no existe."),
    "user.role": _l("Elija un rol válido."),
    "user.agent_for_role": _l("Solo el rol Agente se vincula a un agente."),
    "user.agent_required": _l("Elija el agente vinculado a este usuario."),
    "user.password_short": _l("Use al menos %(min)s caracteres."),
    "user.email_taken": _l("Ya existe un usuario con el correo %(email)s."),
    "user.self_lockout": _l(
        "No puede desactivarse ni quitarse el rol de administrador: perdería el acceso."
    ),
    "user.self_delete": _l("No puede eliminar su propia cuenta."),
    "token.not_found": _l("Ese token no existe."),
    # membership
    "membership.none_chosen": _l("Elija al menos un contacto."),
    "membership.not_member": _l("El contacto no está en esa cartera."),
    "membership.in_other": _l("Algunos contactos están en otra cartera."),
    "membership.raced": _l("Otro cambio llegó antes; recargue la página e inténtelo de nuevo."),
    "undo.expired": _l("Ya no se puede deshacer: pasó demasiado tiempo."),
    "undo.changed_since": _l("No se deshizo: alguien cambió esos contactos mientras tanto."),
    # handover
    "handover.same_agent": _l("Elija a otro agente."),
    "handover.no_team": _l("Estas carteras no tienen equipo que las conserve: %(carteras)s."),
    "handover.outside_team": _l(
        "Estas carteras son de un equipo al que el nuevo dueño no pertenece: %(carteras)s."
    ),
    # business hours and periods
    "hours.zone": _l("«%(zone)s» no es una zona horaria conocida."),
    "hours.weekly": _l("Indique el horario de cada día de la semana."),
    "hours.day": _l("«%(day)s» no es un día de la semana."),
    "hours.range": _l("%(day)s: escriba los horarios como 09:00 a 18:00."),
    "period.unknown": _l("Elija un periodo de la lista."),
    "period.reversed": _l("La fecha final no puede ser anterior a la inicial."),
    # access
    "access.managers_only": _l("Solo coordinadores y administradores pueden hacer esto."),
    "access.all_carteras_only": _l("Esto requiere acceso a todas las carteras."),
    "access.admins_only": _l("Solo los administradores pueden hacer esto."),
    # import rows
    "row.invalid": _l("La fila no es válida."),
    "row.several_contacts": _l("Sus teléfonos, correos y referencia son de contactos distintos."),
    "row.other_ref": _l("El contacto que coincide tiene la referencia «%(ref)s»."),
    "row.in_other_cartera": _l(
        "El contacto está en otra cartera; marque «Mover» para cambiarlo de cartera."
    ),
}
# When a rule has no text of its own: its kind.
CODES: dict[str, LazyString] = {
    "validation_error": _l("Revise los datos."),
    "not_found": _l("No existe o no está a su alcance."),
    "conflict": _l("El cambio choca con el estado actual; recargue la página."),
    "forbidden": _l("No tiene permiso para esto."),
    "unauthorized": _l("Ingrese de nuevo."),
    "error": _l("No se pudo completar la acción."),
}


# An HTTP error without a text of ours (an unknown address, Werkzeug's own), by status.
STATUS: dict[int, LazyString] = {
    400: _l("La solicitud no es válida; recargue la página e inténtelo de nuevo."),
    401: _l("Ingrese para continuar."),
    403: _l("No tiene permiso para ver esta página."),
    404: _l("Esta página no existe o no está a su alcance."),
    405: _l("Esta dirección no se abre así: vuelva a la página anterior y use sus botones."),
    413: _l("El archivo es demasiado grande."),
    429: _l("Demasiados intentos; espere un momento e inténtelo de nuevo."),
    500: _l(
        "Algo falló de nuestro lado. Inténtelo de nuevo en unos minutos; si se repite, avise "
        "a quien administra el servicio."
    ),
    503: _l("El servicio no está disponible por un momento; inténtelo de nuevo en unos minutos."),
}


def status_text(status: int) -> str:
    """What an HTTP error means to the person, in Spanish (or the chosen language)."""
    return str(STATUS.get(status) or CODES["error"])


def say(rule: str, params: dict[str, Any] | None = None, code: str = "error") -> str:
    """The Spanish (or the chosen language's) text of *rule* with its *params*."""
    text = RULES.get(rule) or CODES.get(code) or CODES["error"]
    try:
        return str(text) % (params or {}) if "%(" in str(text) else str(text)
    except (KeyError, TypeError, ValueError):  # a rule raised without its params
        return str(CODES.get(code) or CODES["error"])


def explain(error: DomainError) -> str:
    """The error as one sentence for a page."""
    return say(error.rule, error.params, error.code)


def field_messages(error: DomainError) -> dict[str, list[str]]:
    """The error per field (``phones[1]`` -> ``phones``), in words for the page."""
    out: dict[str, list[str]] = {}
    for name, (rule, params) in error.field_rules.items():
        out.setdefault(name.split("[")[0], []).append(say(rule, params, error.code))
    return out
