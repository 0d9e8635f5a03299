"""The web forms (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

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
    region = StringField(_l("Región"), validators=[Optional(), Length(max=120)])
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


class ImportForm(FlaskForm):  # type: ignore[misc]
    file = FileField(_l("Archivo CSV"), validators=[FileRequired()])
    move = BooleanField(_l("Mover contactos que estén en otra cartera"), default=True)
