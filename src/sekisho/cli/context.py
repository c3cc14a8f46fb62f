"""What every CLI command may need, built lazily from `--config` / `SEKISHO_CONFIG`.

The operator identity (Rule 14) is resolved here and nowhere else: a command
that changes state uses `ctx.actor`, the enabled platform user named by
`--as EMAIL` (or `SEKISHO_OPERATOR`), recorded in the ledger with `via: cli`.
Once any platform admin exists it is required; before that, only creating the
first admin may run without it (recorded as the system actor `bootstrap`).
Resolving it prints as whom the command acts, before anything else.
"""

from __future__ import annotations

import argparse
from functools import cached_property

from sqlalchemy import select

from sekisho.actor import Actor
from sekisho.settings import (
    ConfigError,
    Settings,
    config_path_from_env,
    load_settings,
    operator_from_env,
)
from sekisho.store.db import Database

VIA = "cli"
MISSING = (
    "who is acting? give --as EMAIL or set SEKISHO_OPERATOR (an existing, enabled platform user)"
)


class CommandError(Exception):
    """A CLI failure: printed as one line on standard error, exit status `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_operator_option(parser: argparse.ArgumentParser) -> None:
    """`--as EMAIL` on every command (the common parent parser)."""
    parser.add_argument(
        "--as",
        dest="operator",
        metavar="EMAIL",
        help="the platform user this command acts as (default: $SEKISHO_OPERATOR)",
    )


class CliContext:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._actor: Actor | None = None

    @cached_property
    def settings(self) -> Settings:
        path = config_path_from_env(getattr(self.args, "config", None))
        if path is None:
            raise CommandError("no config file: pass --config FILE or set SEKISHO_CONFIG")
        try:
            return load_settings(path)
        except ConfigError as exc:
            raise CommandError(str(exc).replace("\n", " ")) from exc

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @property
    def actor(self) -> Actor:
        """The operator this state-changing command acts as (see the module docstring)."""
        return self.operator()

    def operator(self, *, first_admin: bool = False) -> Actor:
        """Resolve (once) and announce the acting identity; `first_admin` allows bootstrap."""
        if self._actor is None:
            self._actor = self._resolve(first_admin)
            print(f"acting as {self._actor.describe()}")
        return self._actor

    def _resolve(self, first_admin: bool) -> Actor:
        from sekisho.store.models import PLATFORM_ROLES, User
        from sekisho.tenancy.service import ControlPlaneError, find_user

        email = operator_from_env(getattr(self.args, "operator", None))
        with self.db.read() as session:
            if email is None:
                any_admin = session.scalars(select(User.id).where(User.role == "admin")).first()
                if any_admin is None and first_admin:
                    return Actor.system("bootstrap", via=VIA)
                if any_admin is None:
                    raise CommandError(
                        "no platform admin exists yet: create the first one with "
                        "'sekisho user create EMAIL --role admin', then act with --as EMAIL",
                        code=2,
                    )
                raise CommandError(MISSING, code=2)
            try:
                user = find_user(session, email)
            except ControlPlaneError as exc:
                raise CommandError(f"--as {email}: {exc}", code=2) from exc
            if user.role not in PLATFORM_ROLES:
                raise CommandError(
                    f"--as {email}: {user.role} is not a platform role; "
                    "the CLI acts as a platform user",
                    code=2,
                )
            if user.disabled:
                raise CommandError(f"--as {email}: this user is disabled", code=2)
            return Actor("user", user.id, user.email, user.role, via=VIA)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
