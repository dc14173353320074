"""The process's long-lived objects, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from auth_server.accounts import Accounts
from auth_server.config import Settings
from auth_server.db import Database
from auth_server.keys import KeyStore
from auth_server.mailer import Mailer
from auth_server.passwords import Passwords
from auth_server.sessions import Sessions
from auth_server.tokens import AccessTokens


@dataclass
class Services:
    settings: Settings
    database: Database
    keys: KeyStore
    tokens: AccessTokens
    passwords: Passwords
    mailer: Mailer
    accounts: Accounts
    sessions: Sessions

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings.check_production_ready()
        passwords = Passwords(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        keys = KeyStore.from_settings(settings)
        tokens = AccessTokens(
            keys, settings.jwt_issuer, settings.jwt_audience, settings.access_token_ttl
        )
        mailer = Mailer(settings)
        return cls(
            settings=settings,
            database=Database(settings.auth_database_url),
            keys=keys,
            tokens=tokens,
            passwords=passwords,
            mailer=mailer,
            accounts=Accounts(settings, passwords, mailer),
            sessions=Sessions(settings, passwords, tokens),
        )
