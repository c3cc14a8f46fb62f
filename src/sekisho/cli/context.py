"""What every CLI command may need, built lazily from `--config` / `SEKISHO_CONFIG`."""

from __future__ import annotations

import argparse
import getpass
from functools import cached_property

from sekisho.actor import Actor
from sekisho.settings import ConfigError, Settings, config_path_from_env, load_settings
from sekisho.store.db import Database


class CommandError(Exception):
    """A CLI failure: printed as one line on standard error, exit status `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class CliContext:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

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
        from sekisho.ledger.signing import attach_from_settings

        db = Database(self.settings.database_url)
        attach_from_settings(db, self.settings.ledger)  # ledger entries carry the key's signature
        return db

    @cached_property
    def actor(self) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return Actor.cli(user)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
