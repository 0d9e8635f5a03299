"""Regions (Norte, Centro, Sur, ...), optionally grouped under a macroregion (issue 12).

A cartera has a default region; a contact takes its cartera's unless it has its own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import Base
from service.models.types import UTCDateTime, utcnow


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # Case-folded name: uniqueness ignores case ("Norte" == "norte").
    name_key: Mapped[str] = mapped_column(String(80), unique=True)
    # The macroregion this region belongs to (one level: a macroregion has no parent).
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    parent: Mapped[Region | None] = relationship(remote_side=[id], lazy="joined", join_depth=1)
