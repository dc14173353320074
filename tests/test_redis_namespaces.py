"""Two deployments on one Redis: Redis delivers a PUBLISH to every subscriber of the channel
name, whatever database number either selected, so the revocation channel is named after
the deployment (REDIS_PREFIX) and the database number, by the auth server (publisher) and
the client library (subscriber) alike."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
import redis
from rozitech_auth.conf import redis_channel as client_channel

from auth_server.config import redis_channel as server_channel
from tests.auth_server.helpers import login, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.redis_process import RedisProcess, needs_redis_server
from tests.support.smtp import SmtpSink


@pytest.mark.parametrize(
    ("prefix", "url"),
    [("", "redis://h:6379"), ("", "redis://h:6379/3"), ("acme", "redis://h/1"), ("x", "")],
)
def test_publisher_and_subscriber_name_the_channel_alike(prefix: str, url: str) -> None:
    assert server_channel("auth:revocations", prefix, url) == client_channel(
        "auth:revocations", prefix, url
    )


@needs_redis_server
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        pytest.param(("blue", 0), ("green", 0), id="prefixes"),
        pytest.param(("", 0), ("", 1), id="database-numbers"),
    ],
)
def test_two_deployments_on_one_redis_do_not_hear_each_other(
    smtp_sink: SmtpSink,
    tmp_path: Path,
    own_redis: RedisProcess,
    ours: tuple[str, int],
    theirs: tuple[str, int],
) -> None:
    base = f"redis://127.0.0.1:{own_redis.port}"
    servers = []
    with temporary_database(tmp_path) as database_url:
        try:
            for prefix, database in (ours, theirs):
                # The same REVOCATION_CHANNEL setting (the default's situation).
                server = AuthServerProcess(
                    database_url, tmp_path, smtp_sink.port,
                    redis_url=f"{base}/{database}", redis_prefix=prefix,
                    revocation_channel="auth:revocations",
                )  # fmt: skip
                servers.append(server)
            servers[0].migrate()
            for server in servers:
                server.start()
            # Our deployment's subscriber, named as the client library names it.
            prefix, database = ours
            pubsub = redis.Redis.from_url(f"{base}/{database}").pubsub()  # type: ignore[no-untyped-call]
            pubsub.subscribe(client_channel("auth:revocations", prefix, f"{base}/{database}"))
            assert pubsub.get_message(timeout=10)["type"] == "subscribe"
            with httpx.Client(base_url=servers[0].base_url, timeout=30) as http:
                email = verified_user(http, smtp_sink)
            logged_out = []
            for server in reversed(servers):  # theirs first, then ours
                with httpx.Client(base_url=server.base_url, timeout=30) as http:
                    refresh = login(http, email)["refreshToken"]
                    http.post("/api/auth/logout", json={"refreshToken": refresh})
                    logged_out.append(str(uuid.UUID(refresh.split(".", 1)[0])))
            heard = []
            while message := pubsub.get_message(ignore_subscribe_messages=True, timeout=2):
                heard.append(json.loads(message["data"])["sid"])
            # Only our own logout, not theirs.
            assert heard == [logged_out[1]]
            pubsub.close()
        finally:
            for server in servers:
                server.stop()
