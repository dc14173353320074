"""A hung Redis (SIGSTOP: it accepts connections and never answers) must cost a login or a
logout one socket timeout per Redis call (REDIS_SOCKET_TIMEOUT), no retries: rate limits fail
open and the revocation event, unpublished, is still in the feed.

Event-driven, no timing threshold: Redis never answers, so every request that completes was
let through by its Redis calls' own timeouts (redis-py's TimeoutError comes only from the
socket timeout the server sets, REDIS_SOCKET_TIMEOUT; the log names each, once per call: no
retry). The HTTP client's timeout is only a hang guard.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.auth_server.helpers import PASSWORD, login, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.redis_process import RedisProcess, needs_redis_server
from tests.support.smtp import SmtpSink
from tests.support.waiting import HANG_GUARD

LOGINS = 3


@needs_redis_server
def test_a_hung_redis_costs_a_login_and_a_logout_one_short_timeout(
    smtp_sink: SmtpSink, tmp_path: Path, own_redis: RedisProcess
) -> None:
    with temporary_database(tmp_path) as database_url:
        server = AuthServerProcess(
            database_url, tmp_path, smtp_sink.port,
            redis_url=own_redis.url,
            # Fewer than LOGINS: only a limiter that failed open lets them all through.
            rate_limit_per_ip=f"{LOGINS - 1}/minute",
        )  # fmt: skip
        server.migrate().start()
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                email = verified_user(http, smtp_sink)
            own_redis.hang()
            with httpx.Client(base_url=server.base_url, timeout=HANG_GUARD) as http:
                sessions = [login(http, email, PASSWORD) for _ in range(LOGINS)]
                for session in sessions:
                    response = http.post(
                        "/api/auth/logout", json={"refreshToken": session["refreshToken"]}
                    )
                    assert response.status_code == 200, response.text
                    me = http.get(
                        "/api/auth/me",
                        headers={"Authorization": f"Bearer {session['accessToken']}"},
                    )
                    assert me.status_code == 401
                feed = http.get("/api/auth/revocations", headers=server.service_headers())
                assert len(feed.json()["data"]["events"]) == LOGINS
        finally:
            own_redis.resume()
            server.stop()
        log = server.log()
        # Every Redis call timed out and was let through (one hit per login at least) ...
        assert log.count("Rate-limit storage unavailable") >= LOGINS, log
        # ... and every revocation event missed the channel, once each (no retries).
        assert log.count("not published on Redis") == LOGINS, log
        assert "Timeout" in log
