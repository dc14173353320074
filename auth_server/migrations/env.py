"""Alembic environment: migrates the database named by the settings (or by the caller)."""

from __future__ import annotations

from alembic import context

from auth_server.config import get_settings
from auth_server.db import make_engine
from auth_server.models import Base
from auth_server.oidc import models as _oidc_models  # noqa: F401 - its tables in Base
from auth_server.passkeys import models as _passkey_models  # noqa: F401 - likewise

url = context.config.get_main_option("sqlalchemy.url") or get_settings().auth_database_url
engine = make_engine(url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
