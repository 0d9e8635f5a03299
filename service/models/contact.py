"""Contacts and their channel identities (phones, emails, ...)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import Base
from service.models.cartera import Cartera
from service.models.region import Region
from service.models.types import UTCDateTime, utcnow


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_name", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    external_ref: Mapped[str | None] = mapped_column(String(120), unique=True)
    company: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    # Folded (case- and accent-free) text the list search matches; see domain.names.fold.
    search_key: Mapped[str] = mapped_column(Text, default="")
    # One column, so a contact is in at most one cartera by construction (domain rule 2).
    cartera_id: Mapped[int | None] = mapped_column(
        ForeignKey("carteras.id", ondelete="RESTRICT"), index=True
    )
    # Its own region; None = its cartera's default region (issue 12).
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    cartera: Mapped[Cartera | None] = relationship()
    region: Mapped[Region | None] = relationship(lazy="joined")
    identities: Mapped[list[ContactIdentity]] = relationship(
        back_populates="contact",
        cascade="all, delete-orphan",
        order_by="ContactIdentity.id",
        lazy="selectin",
    )


class ContactIdentity(Base):
    """A normalized channel address; unique per kind so it can never point at two contacts."""

    __tablename__ = "contact_identities"
    __table_args__ = (
        UniqueConstraint("kind", "value", name="uq_contact_identities_kind_value"),
        Index("ix_contact_identities_value", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # phone | email | rocketchat | ...
    value: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="identities")
