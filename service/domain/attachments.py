"""Customers' files on their way to the agent's room: which ones go (type and size limits),
and the Spanish line the agent reads instead of a file that cannot go, a location or a shared
contact card.

Pure: no I/O. Must not import Flask, an HTTP client or adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

MB: Final = 1024 * 1024
# Images, PDF, audio, video and office documents (the defaults).
DEFAULT_TYPES: Final = (
    "image/*",
    "audio/*",
    "video/*",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.*",
    "application/vnd.oasis.opendocument.*",
)
NEVER: Final = ("image/svg+xml",)  # script inside an image: Rocket.Chat's own default blacklist

# Why a file did not reach the room, as the agent reads it.
REASONS: Final = {
    "too_large": "supera el tamaño máximo de {limit}",
    "type": "el tipo de archivo no está admitido ({type})",
    "gone": "el canal ya no lo tiene disponible",
    "error-file-upload-disabled": "Rocket.Chat tiene desactivada la subida de archivos",
    "error-type-not-allowed": "Rocket.Chat no admite archivos de este tipo ({type})",
    "error-file-too-large": "supera el tamaño que admite Rocket.Chat",
    "error-size-not-allowed": "supera el tamaño que admite Rocket.Chat",
}


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int = 16 * MB
    types: tuple[str, ...] = DEFAULT_TYPES


def base_type(content_type: str | None) -> str:
    """``image/jpeg; charset=x`` -> ``image/jpeg``; unknown -> ``application/octet-stream``."""
    found = (content_type or "").split(";")[0].strip().lower()
    return found or "application/octet-stream"


def type_allowed(content_type: str | None, limits: FileLimits) -> bool:
    wanted = base_type(content_type)
    if wanted in NEVER:
        return False
    for entry in limits.types:
        entry = entry.strip().lower()
        if entry == wanted or (entry.endswith("*") and wanted.startswith(entry[:-1])):
            return True
    return False


def size_text(size: int) -> str:
    return f"{size / MB:.0f} MB" if size >= MB else f"{max(size // 1024, 1)} KB"


def refusal(name: str | None, reason: str, content_type: str | None, limits: FileLimits) -> str:
    """The line posted in the room in place of a file that cannot go."""
    why = REASONS.get(reason, "no se pudo entregar ({reason})").format(
        limit=size_text(limits.max_bytes), type=base_type(content_type), reason=reason
    )
    return f"El cliente envió el archivo «{name or 'sin nombre'}», que no se puede mostrar: {why}."


def unsupported(kind: str) -> str:
    return f"El cliente envió un tipo de archivo no admitido: {kind}"


def location(body: dict[str, Any]) -> str:
    """A shared location as a line with a map link (WhatsApp ``location``)."""
    latitude, longitude = body.get("latitude"), body.get("longitude")
    label = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
    link = (
        f"https://www.google.com/maps/search/?api=1&query={latitude},{longitude}"
        if isinstance(latitude, int | float) and isinstance(longitude, int | float)
        else ""
    )
    return " ".join(p for p in ("📍 Ubicación:", label, link) if p)


def contact_cards(cards: list[Any]) -> str:
    """Shared contact cards (WhatsApp ``contacts``) as readable lines."""
    lines = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        name = (card.get("name") or {}).get("formatted_name") or "sin nombre"
        phones = [p.get("phone") for p in card.get("phones") or [] if isinstance(p, dict)]
        emails = [e.get("email") for e in card.get("emails") or [] if isinstance(e, dict)]
        details = ", ".join(str(x) for x in [*phones, *emails] if x)
        lines.append(f"👤 Contacto: {name}" + (f" ({details})" if details else ""))
    return "\n".join(lines)
