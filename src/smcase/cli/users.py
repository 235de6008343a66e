"""``smcase users …``: the individuals who act in the register."""

from __future__ import annotations

import click

from ..register import UserView
from .app import App, pass_app
from .output import emit_json, output_formats, table


@click.group("users")
def users() -> None:
    """Users: individuals with roles from the policy."""


@users.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role from the policy (repeatable).")
@click.option("--full-name", help="The person's full name.")
@click.option("--title", "job_title", help="Job title (shown with outgoing replies, VIM-7).")
@click.option("--unit", help="Administrative unit.")
@click.option("--clearance", is_flag=True, help="May read confidential content.")
@pass_app
def users_add(app: App, name: str, roles: tuple[str, ...], full_name: str | None, job_title: str | None,
              unit: str | None, clearance: bool) -> None:
    """Add user NAME (an individual, never a shared account)."""
    added = app.service.add_user(name, roles, full_name=full_name, job_title=job_title, unit=unit,
                                 clearance=clearance)
    click.echo(f"user {added.username} added with the {'role' if len(added.roles) == 1 else 'roles'} "
               f"{', '.join(added.roles)}")


@users.command("update")
@click.argument("name")
@click.option("--full-name", help="The person's full name.")
@click.option("--title", "job_title", help="Job title (shown with outgoing replies, VIM-7).")
@click.option("--unit", help="Administrative unit.")
@pass_app
def users_update(app: App, name: str, full_name: str | None, job_title: str | None, unit: str | None) -> None:
    """Set user NAME's full name, title or unit."""
    changed = app.service.update_user(name, full_name=full_name, job_title=job_title, unit=unit)
    click.echo(f"user {changed.username} updated")


@users.command("grant")
@click.argument("name")
@click.option("--role", "roles", multiple=True, help="A role from the policy (repeatable).")
@click.option("--clearance", is_flag=True, help="May read confidential content (every such read is audited).")
@pass_app
def users_grant(app: App, name: str, roles: tuple[str, ...], clearance: bool) -> None:
    """Give user NAME roles and/or clearance for confidential content."""
    if not roles and not clearance:
        raise click.UsageError("give --role ROLE and/or --clearance")
    changed = app.service.change_user(name, grant=roles, clearance=True if clearance else None)
    click.echo(_summary(changed))


@users.command("revoke")
@click.argument("name")
@click.option("--role", "roles", multiple=True, help="A role to take away (repeatable).")
@click.option("--clearance", is_flag=True, help="Take away clearance for confidential content.")
@pass_app
def users_revoke(app: App, name: str, roles: tuple[str, ...], clearance: bool) -> None:
    """Take roles and/or clearance from user NAME (the last admin keeps the admin role)."""
    if not roles and not clearance:
        raise click.UsageError("give --role ROLE and/or --clearance")
    changed = app.service.change_user(name, revoke=roles, clearance=False if clearance else None)
    click.echo(_summary(changed))


def _summary(user: UserView) -> str:
    return (f"user {user.username}: roles {', '.join(user.roles)}; "
            f"{'clearance for confidential content' if user.clearance else 'no clearance'}")


@users.command("list")
@output_formats()
@pass_app
def users_list(app: App, fmt: str) -> None:
    """List users and their roles."""
    found = app.service.list_users()
    if fmt == "json":
        emit_json([u.to_json() for u in found])
    else:
        click.echo(table([[u.username, ", ".join(u.roles), u.full_name, u.job_title, "yes" if u.clearance else ""]
                          for u in found], ["user", "roles", "name", "title", "clearance"]))
