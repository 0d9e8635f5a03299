"""The web forms (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, Regexp

ICONS = ("💎", "🏦", "⭐", "🤝", "🧭", "🏢", "🛒", "📈", "🔥", "🌎", "👑", "📞")


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: only the CSRF token."""


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(_l("Correo electrónico"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Contraseña"), validators=[DataRequired(), Length(max=200)])


def optional_int(value: object) -> int | None:
    return int(str(value)) if value not in (None, "", "None") else None


class CarteraForm(FlaskForm):  # type: ignore[misc]
    team_id = SelectField(_l("Seleccionar equipo"), coerce=optional_int, validate_choice=False)
    agent_id = SelectField(_l("Seleccione agente"), coerce=optional_int, validate_choice=False)
    name = StringField(_l("Nombre de cartera"), validators=[DataRequired(), Length(max=120)])
    icon = StringField(_l("Ícono"), validators=[DataRequired(), Length(max=32)])
    color = StringField(
        _l("Color"),
        validators=[
            Optional(),
            Regexp(r"^#[0-9a-fA-F]{6}$", message=_l("Use un color como #1E88E5.")),
        ],
    )
    region_id = SelectField(_l("Región"), coerce=optional_int, validate_choice=False)
    description = TextAreaField(_l("Descripción"), validators=[Optional(), Length(max=2000)])
    owner_timeout_seconds = IntegerField(
        _l("Espera del dueño (segundos)"),
        default=0,
        validators=[Optional(), NumberRange(min=0, max=86400)],
    )


class AddContactForm(FlaskForm):  # type: ignore[misc]
    contact_id = IntegerField(validators=[DataRequired()])
    move = BooleanField()


class ContactForm(FlaskForm):  # type: ignore[misc]
    name = StringField(_l("Nombre"), validators=[DataRequired(), Length(max=200)])
    phones = StringField(
        _l("Teléfonos (separados por ;)"), validators=[Optional(), Length(max=500)]
    )
    emails = StringField(_l("Correos (separados por ;)"), validators=[Optional(), Length(max=500)])
    external_ref = StringField(_l("Referencia externa"), validators=[Optional(), Length(max=120)])
    company = StringField(_l("Empresa"), validators=[Optional(), Length(max=200)])
    notes = TextAreaField(_l("Notas"), validators=[Optional(), Length(max=5000)])
    region_id = SelectField(_l("Región"), coerce=optional_int, validate_choice=False)


class ImportForm(FlaskForm):  # type: ignore[misc]
    file = FileField(_l("Archivo CSV"), validators=[FileRequired()])
    move = BooleanField(_l("Mover a la cartera de su fila los contactos que están en otra"))


class ImportConfirmForm(FlaskForm):  # type: ignore[misc]
    """Saves the file a preview showed (kept on the server under *preview*)."""

    preview = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")])
    move = HiddenField()


# Usuarios (admins): the profile, its carteras, a new password, an API token.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def no_control(value: object) -> object:
    """Drop control characters from typed text (PostgreSQL refuses NUL in text)."""
    return _CONTROL.sub("", value) if isinstance(value, str) else value


ROLE_LABELS = {
    "admin": _l("Administrador"),
    "coordinator": _l("Coordinador"),
    "agent": _l("Agente"),
}


class UserForm(FlaskForm):  # type: ignore[misc]
    """Edit a user: the profile and the carteras it may see."""

    name = StringField(
        _l("Nombre"), filters=[no_control], validators=[DataRequired(), Length(max=120)]
    )
    email = EmailField(
        _l("Correo electrónico"), filters=[no_control], validators=[Optional(), Length(max=320)]
    )
    role = SelectField(
        _l("Rol"), choices=[SelectChoice(value, label) for value, label in ROLE_LABELS.items()]
    )
    agent_id = SelectField(_l("Agente vinculado"), coerce=optional_int)
    active = BooleanField(_l("Activo (puede ingresar y usar sus tokens)"))
    all_carteras = BooleanField(_l("Todas las carteras"))
    cartera_ids = SelectMultipleField(_l("Carteras"), coerce=int)


class NewUserForm(UserForm):
    """Create a user: the email is required, the first password optional (API-only users)."""

    email = EmailField(
        _l("Correo electrónico"),
        filters=[no_control],
        validators=[DataRequired(), Length(max=320)],
    )
    password = PasswordField(_l("Contraseña"), validators=[Optional(), Length(max=200)])
    active = None  # a new user starts active


class PasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField(_l("Nueva contraseña"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("Repita la contraseña"),
        validators=[
            DataRequired(),
            EqualTo("password", message=_l("Las contraseñas no coinciden.")),
        ],
    )


class TokenForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _l("Nombre del token"), filters=[no_control], validators=[DataRequired(), Length(max=120)]
    )


class RegionForm(FlaskForm):  # type: ignore[misc]
    name = StringField(_l("Nombre de la región"), validators=[DataRequired(), Length(max=80)])
    parent_id = SelectField(_l("Macrorregión"), coerce=optional_int, validate_choice=False)


# Equipos and Agentes (managers with every cartera): teams, agents, the handover wizard.
class TeamForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _l("Nombre del equipo"), filters=[no_control], validators=[DataRequired(), Length(max=120)]
    )
    rocketchat_department_id = StringField(
        _l("Id del departamento en Rocket.Chat"),
        filters=[no_control],
        validators=[Optional(), Length(max=64)],
    )


class AgentForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _l("Nombre"), filters=[no_control], validators=[DataRequired(), Length(max=120)]
    )
    email = EmailField(
        _l("Correo electrónico"), filters=[no_control], validators=[Optional(), Length(max=320)]
    )
    rocketchat_user_id = StringField(
        _l("Id de usuario en Rocket.Chat"),
        filters=[no_control],
        validators=[Optional(), Length(max=64)],
    )
    rocketchat_username = StringField(
        _l("Usuario de Rocket.Chat"),
        filters=[no_control],
        validators=[Optional(), Length(max=120)],
    )
    team_ids = SelectMultipleField(_l("Equipos"), coerce=int)
    max_open_chats = IntegerField(
        _l("Máximo de conversaciones abiertas"),
        validators=[
            Optional(),
            NumberRange(min=1, max=1000, message=_l("Use un número entre 1 y 1000.")),
        ],
    )
    active = BooleanField(_l("Activo (recibe conversaciones)"), default=True)


OPEN_CONVERSATIONS = {
    "leave": _l("Dejarlas con el agente hasta que se cierren"),
    "reforward": _l("Reenviarlas ahora al nuevo dueño (o al equipo)"),
}


class HandoverForm(FlaskForm):  # type: ignore[misc]
    """The handover wizard: who receives the carteras, and what happens to the agent."""

    to_agent_id = SelectField(_l("Quién recibe las carteras"), coerce=optional_int)
    deactivate_agent = BooleanField(_l("Desactivar al agente después del traspaso"))
    open_conversations = SelectField(
        _l("Conversaciones abiertas"),
        choices=[SelectChoice(value, label) for value, label in OPEN_CONVERSATIONS.items()],
        default="leave",
    )
    # The carteras the preview showed: the confirmation refuses a plan that changed since.
    expected = StringField(validators=[Optional(), Length(max=20000)])


class ContactCarteraForm(FlaskForm):  # type: ignore[misc]
    """The ficha's "Cambiar" cartera: a cartera id, or "ninguna"; *confirm* once the page
    named where the contact is and where it goes."""

    cartera = SelectField(_l("Nueva cartera"), validate_choice=True)
    confirm = HiddenField()
