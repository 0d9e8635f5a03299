"""Flask CLI commands: tokens, contacts import, worker."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from service.domain import imports, tokens, users
from service.domain.actor import system_actor
from service.domain.errors import DomainError
from service.extensions import db
from service.jobs import sweeper

tokens_cli = AppGroup("tokens", help="Create, list and revoke API tokens.")
contacts_cli = AppGroup("contacts", help="Bulk contact operations.")
inbox_cli = AppGroup("inbox", help="The inbound message queue: requeue and replay.")
users_cli = AppGroup("users", help="People who sign in to the web pages.")
outbox_cli = AppGroup("outbox", help="Replies sent back to customers: replay failures.")


@outbox_cli.command("replay")
@click.option("--id", "outbound_ids", type=int, multiple=True, help="An outbound message id.")
@click.option("--all-failed", is_flag=True, help="Every failed reply.")
def outbox_replay(outbound_ids: tuple[int, ...], all_failed: bool) -> None:
    """Send failed replies again."""
    if not outbound_ids and not all_failed:
        raise click.UsageError("give --id N (repeatable) or --all-failed")
    found, enqueued = sweeper.replay_replies(None if all_failed else list(outbound_ids))
    click.echo(f"replayed={found} enqueued={enqueued}")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default=None, help="Display name (defaults to the email).")
@click.option("--role", type=click.Choice(["admin", "coordinator", "agent"]), required=True)
@click.option("--agent-id", type=int, default=None, help="The agent an agent user is.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for when not given.",
)
def create_user(
    email: str, name: str | None, role: str, agent_id: int | None, password: str
) -> None:
    """Create a user who signs in to the web pages with email and password."""
    try:
        user = users.create_user(
            db.session(),
            system_actor("cli:users"),
            email=email,
            name=name or email,
            role=role,
            password=password,
            agent_id=agent_id,
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(f"User {user.id} <{user.email}> created with role {role}.")


def _user_change(email: str, change: Callable[[int], object]) -> None:
    try:
        change(users.find_user(db.session(), email).id)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def set_password(email: str, password: str) -> None:
    """Give a user a new password; its open sessions end."""
    actor = system_actor("cli:users")
    _user_change(email, lambda user_id: users.set_password(db.session(), actor, user_id, password))
    click.echo(f"Password of <{email}> changed; its sessions ended.")


@users_cli.command("deactivate")
@click.argument("email")
def deactivate_user(email: str) -> None:
    """Deactivate a user: its sessions, tokens and live connections stop."""
    actor = system_actor("cli:users")
    _user_change(email, lambda user_id: users.set_active(db.session(), actor, user_id, False))
    click.echo(f"User <{email}> deactivated.")


@users_cli.command("activate")
@click.argument("email")
def activate_user(email: str) -> None:
    """Activate a user again (it signs in anew)."""
    actor = system_actor("cli:users")
    _user_change(email, lambda user_id: users.set_active(db.session(), actor, user_id, True))
    click.echo(f"User <{email}> activated.")


@tokens_cli.command("create")
@click.option("--role", type=click.Choice(["admin", "coordinator", "agent"]), default=None)
@click.option("--name", required=True, help="Who or what uses the token.")
@click.option("--agent-id", type=int, default=None, help="The agent an agent token acts as.")
@click.option(
    "--user-id", type=int, default=None, help="An existing user the token acts as (no --role)."
)
def create_token(role: str | None, name: str, agent_id: int | None, user_id: int | None) -> None:
    """Create an API user and token, or with --user-id a token for an existing user (it acts
    with that user's role and carteras); the token is printed alone on the last line."""
    if (role is None) == (user_id is None):
        raise click.UsageError("Give either --role (a new API user) or --user-id.")
    actor = system_actor("cli:tokens")
    try:
        if user_id is not None:
            issued = tokens.issue_user_token(db.session(), actor, user_id, name)
        else:
            assert role is not None
            issued = tokens.issue_token(
                db.session(), actor, name=name, role=role, agent_id=agent_id
            )
        role = issued.token.user.role
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(
        f"Token {issued.token.id} for {name!r} (role {role}); store it now, it is not shown again:",
        err=True,
    )
    click.echo(issued.secret)


@tokens_cli.command("list")
def list_tokens() -> None:
    """List tokens (prefix only)."""
    for token in tokens.list_tokens(db.session(), system_actor("cli:tokens")):
        state = "revoked" if token.revoked_at else "active"
        agent = f" agent={token.user.agent_id}" if token.user.agent_id else ""
        click.echo(f"{token.id}\t{token.prefix}…\t{token.user.role}{agent}\t{state}\t{token.name}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke a token by id."""
    try:
        tokens.revoke_token(db.session(), system_actor("cli:tokens"), token_id)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(f"Token {token_id} revoked.")


@contacts_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--move/--no-move",
    default=False,
    help="Move contacts in another cartera to the cartera of their row (else the row is rejected).",
)
def import_contacts(path: Path, move: bool) -> None:
    """Import contacts from a CSV file (name,phones,emails,external_ref,company,notes,cartera,
    region; or the Spanish nombre,teléfonos,correos,referencia,empresa,notas,cartera,región)."""
    data = path.read_bytes()
    total = max(data.count(b"\n") - 1, 0) or 1
    region = current_app.config["CARTERAS"].default_phone_region
    actor = system_actor("cli:import", request_id=f"cli-{uuid.uuid4().hex[:12]}")
    stderr = sys.stderr
    with click.progressbar(length=total, label="Importando contactos", file=stderr) as bar:
        try:
            report = imports.import_contacts(
                db.session(),
                actor,
                imports.read_csv(data),
                region=region,
                move=move,
                progress=bar.update,
            )
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
    click.echo(
        f"rows={report.rows} created={report.created} updated={report.updated} "
        f"moved={report.moved} unchanged={report.unchanged} rejected={report.rejected}"
    )
    for renamed in report.renamed[:50]:
        click.echo(f"  row {renamed.row}: renamed {renamed.before!r} -> {renamed.after!r}")
    for error in report.errors[:50]:
        click.echo(f"  row {error.row}: {error.field or '-'}: {error.message}", err=True)
    if len(report.errors) > 50:
        click.echo(f"  ... and {len(report.errors) - 50} more rejected rows", err=True)


@inbox_cli.command("requeue")
@click.option(
    "--older-than",
    default=30.0,
    show_default=True,
    help="Only rows pending for at least this many seconds (the webhook may be enqueuing).",
)
def inbox_requeue(older_than: float) -> None:
    """Enqueue every message left pending (queue was down) or stuck in a dead job."""
    found, enqueued = sweeper.requeue_stale(grace=timedelta(seconds=older_than))
    click.echo(f"found={found} enqueued={enqueued}")
    if enqueued < found:
        raise click.ClickException("the queue is unreachable; the rest stay pending")


@inbox_cli.command("replay")
@click.option("--id", "inbox_ids", type=int, multiple=True, help="An inbox message id.")
@click.option("--all-failed", is_flag=True, help="Every failed message.")
def inbox_replay(inbox_ids: tuple[int, ...], all_failed: bool) -> None:
    """Run failed messages again."""
    if not inbox_ids and not all_failed:
        raise click.UsageError("give --id N (repeatable) or --all-failed")
    reset, enqueued = sweeper.replay(None if all_failed else list(inbox_ids))
    click.echo(f"replayed={reset} enqueued={enqueued}")


@inbox_cli.command("skip")
@click.option("--id", "inbox_id", type=int, required=True, help="A failed inbox message id.")
def inbox_skip(inbox_id: int) -> None:
    """Give up on a failed message so the later messages of its conversation go on (audited)."""
    from service.domain.errors import DomainError

    try:
        successor = sweeper.skip(inbox_id, system_actor("cli:inbox"))
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"skipped={inbox_id} next={successor or '-'}")


@click.command("worker")
@with_appcontext
@click.option(
    "--sweep-every",
    type=float,
    default=None,
    help="Seconds between requeue sweeps (default CARTERAS_SWEEP_INTERVAL; 0 = none).",
)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.argument("queues", nargs=-1)
def worker(queues: tuple[str, ...], sweep_every: float | None, burst: bool) -> None:
    """Run an RQ worker inside the app (needs REDIS_URL), with a periodic requeue sweep; it
    outlives Redis and database restarts and stops on SIGTERM/SIGINT."""
    from service.jobs.worker import run_worker

    if not current_app.config["CARTERAS"].redis_url:
        raise click.ClickException(
            "REDIS_URL is not set; the embedded default runs jobs in-process."
        )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    names = list(queues) or ["routing", "relay", "imports", "default"]
    run_worker(app, names, burst=burst, sweep_every=sweep_every)


def register_cli(app: Flask) -> None:
    app.cli.add_command(tokens_cli)
    app.cli.add_command(contacts_cli)
    app.cli.add_command(inbox_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(worker)
