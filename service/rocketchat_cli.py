"""Flask CLI ``rocketchat``: ``check`` (is Rocket.Chat set up for this service?) and ``sync``
(teams and agents from its departments and livechat agents)."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from service.domain import rc_setup, rc_sync
from service.domain.actor import system_actor
from service.domain.errors import DomainError
from service.domain.ports import ChatPlatform, ChatPlatformError
from service.extensions import db

rocketchat_cli = AppGroup("rocketchat", help="Check and sync the Rocket.Chat set-up.")


def _chat() -> ChatPlatform:
    chat: ChatPlatform = current_app.extensions["ports"].chat
    return chat


def _run_checks(chat: ChatPlatform) -> list[rc_setup.Check]:
    expected = rc_setup.Expected.from_config(current_app.config["CARTERAS"])
    try:
        return rc_setup.check(db.session(), chat, expected)
    finally:
        db.session.rollback()


@rocketchat_cli.command("check")
@click.option(
    "--fix", is_flag=True, help="Create what can be created: the room custom field 'cartera'."
)
def check(fix: bool) -> None:
    """One line per requirement (✓ ok, ⚠ warning, ✗ to fix); exit status 1 on any ✗."""
    chat = _chat()
    checks = _run_checks(chat)
    if fix and any(c.fixable for c in checks):
        try:
            rc_setup.create_badge_field(chat)
            click.echo(f"+ campo '{rc_setup.BADGE_FIELD}' creado / field created")
        except ChatPlatformError as exc:
            click.echo(f"✗ no se pudo crear el campo / could not create the field: {exc}")
        checks = _run_checks(chat)
    for item in checks:
        click.echo(item.line())
    counts = {s: sum(1 for c in checks if c.status == s) for s in rc_setup.STATUSES}
    click.echo(f"{counts[rc_setup.OK]} ✓  {counts[rc_setup.WARN]} ⚠  {counts[rc_setup.FAIL]} ✗")
    if rc_setup.failed(checks):
        raise SystemExit(1)


def _describe(entry: dict[str, Any]) -> str:
    changes = ", ".join(f"{k}={v}" for k, v in entry.get("changes", {}).items())
    return f"{entry['type']} {entry.get('id') or ''} {entry['name']!r} {changes}".replace("  ", " ")


@rocketchat_cli.command("sync")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
def sync(dry_run: bool) -> None:
    """Create or update teams from departments and agents from livechat agents; agents
    gone from Rocket.Chat become inactive. Nothing is deleted; every change is audited."""
    try:
        report = rc_sync.sync(
            db.session(), system_actor("cli:rocketchat"), _chat(), dry_run=dry_run
        )
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except (DomainError, ChatPlatformError) as exc:
        db.session.rollback()
        raise click.ClickException(getattr(exc, "message", None) or str(exc)) from None
    prefix = "(dry run) " if dry_run else ""
    for label, entries in (
        ("created", report.created),
        ("updated", report.updated),
        ("deactivated", report.deactivated),
    ):
        for entry in entries:
            click.echo(f"{prefix}{label}: {_describe(entry)}")
    for entry in report.skipped:
        click.echo(
            f"{prefix}skipped: {entry['type']} {entry['name']!r}: {entry['reason']}", err=True
        )
    click.echo(
        f"{prefix}created={len(report.created)} updated={len(report.updated)} "
        f"deactivated={len(report.deactivated)} skipped={len(report.skipped)}"
    )
