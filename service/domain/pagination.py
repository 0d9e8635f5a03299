"""Page through a SELECT: the ``{"items", "total", "page", "per_page"}`` shape of every list
(plus ``total_exact`` where the count may stop early: the audit log)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from service.domain.errors import Invalid

T = TypeVar("T")
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
MAX_PAGE = 1_000_000  # keeps OFFSET far inside 64 bits


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    # False when the count stopped early (the audit log's, at a limit): there are more
    # than ``total`` rows.
    total_exact: bool = True


def check_paging(page: int, per_page: int) -> None:
    """:raise Invalid: page below 1, or per_page outside 1..200."""
    if not 1 <= page <= MAX_PAGE:
        raise Invalid.field("page", f"must be between 1 and {MAX_PAGE}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise Invalid.field("per_page", f"must be between 1 and {MAX_PER_PAGE}")


def paginate(
    session: Session, stmt: Select[Any], page: int, per_page: int, *, rows: bool = False
) -> Page[Any]:
    """Count the whole result, then fetch one page. ``rows=True`` keeps tuples."""
    check_paging(page, per_page)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    result = session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    items: list[Any] = (
        [tuple(r) for r in result.unique().all()] if rows else list(result.unique().scalars())
    )
    return Page(items=items, total=total, page=page, per_page=per_page)
