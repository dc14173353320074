"""What verifying one access token costs the SaaS Admin, in process, side by side.

Run by bench/auth_overhead.py (make bench-client) in the SaaS Admin's environment, against
its auth server: mints --tokens new access tokens of one known user (a refresh chain), then
times each token, in rotating order: a bare PyJWT RS256 decode; simplejwt's JWTAuthentication
(decode + user lookup; same tokens, key and database); `hybrid` on the token's first sight
(verification, local user, organization mirror, revocation check) and on repeats (the same
token again). Prints medians and ratios. `--profile`: cProfile of the first sights and of one
repeat each instead.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "saas_admin")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from bench.simplejwt_case import public_key_pem, simplejwt_settings  # noqa: E402

# Repeats timed per token (the same token again: the cached path).
REPEATS = 5


def mint(auth_url: str, refresh_token: str, count: int) -> list[str]:
    """`count` new access tokens of one session, by rotating its refresh token."""
    tokens = []
    with httpx.Client(base_url=auth_url, timeout=30) as http:
        for _ in range(count):
            response = http.post("/api/auth/refresh", json={"refreshToken": refresh_token})
            response.raise_for_status()
            data = response.json()["data"]
            refresh_token = data["refreshToken"]
            tokens.append(data["accessToken"])
    return tokens


def timed(step: Callable[[str], object], token: str) -> float:
    start = time.perf_counter()
    step(token)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    auth_url = os.environ["AUTH_SERVICE_URL"]
    audience = os.environ.get("AUTH_JWT_AUDIENCE", "rozitech")
    settings.SIMPLE_JWT = simplejwt_settings(auth_url, audience)
    django.setup()

    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rozitech_auth.django.authentication import RemoteJWTAuthentication

    class Hybrid(RemoteJWTAuthentication):
        verify_mode = "hybrid"

    hybrid, simple = Hybrid(), JWTAuthentication()
    public_key = public_key_pem(auth_url)

    def pyjwt(token: str) -> object:
        return jwt.decode(
            token, public_key, algorithms=["RS256"], audience=audience, issuer=auth_url
        )

    def simplejwt(token: str) -> object:
        return simple.get_user(simple.get_validated_token(token.encode()))

    def first(token: str) -> object:
        return hybrid.authenticate_credentials(token)

    tokens = mint(auth_url, os.environ["BENCH_REFRESH_TOKEN"], args.tokens + 1)
    # Warm-up: the JWKS, the feed's first backfill, the local user and mirror rows.
    first(tokens[0])
    simplejwt(tokens[0])
    tokens = tokens[1:]

    if args.profile:
        for label in ("first sights", "repeats"):
            print(f"--- {label}")
            profile = cProfile.Profile()
            profile.runcall(lambda: [first(token) for token in tokens])
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return

    steps: list[tuple[str, Callable[[str], object]]] = [
        ("pyjwt", pyjwt),
        ("simplejwt", simplejwt),
        ("first", first),
    ]
    timings: dict[str, list[float]] = {name: [] for name in ("pyjwt", "simplejwt", "first")}
    timings["repeat"] = []
    for index, token in enumerate(tokens):
        # Rotated: no case always runs right after another.
        shift = index % len(steps)
        for name, step in steps[shift:] + steps[:shift]:
            timings[name].append(timed(step, token))
        timings["repeat"].extend(timed(first, token) for _ in range(REPEATS))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    decode, simplejwt_cost = medians["pyjwt"], medians["simplejwt"]
    print(f"in process, hybrid, {len(tokens)} new tokens of one known user (medians):")
    for label, name in (
        ("PyJWT RS256 decode", "pyjwt"),
        ("simplejwt JWTAuthentication", "simplejwt"),
        ("hybrid, first-seen token", "first"),
        ("hybrid, repeat token", "repeat"),
    ):
        value = medians[name]
        print(
            f"  {label:<30}{value * 1e6:9.1f} us   x decode {value / decode:5.2f}"
            f"   x simplejwt {value / simplejwt_cost:5.2f}"
        )


if __name__ == "__main__":
    main()
