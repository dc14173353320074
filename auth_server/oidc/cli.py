"""`python -m auth_server clients create|list|rotate-secret|delete`: the relying parties."""

from __future__ import annotations

import argparse
import json

from auth_server.config import Settings
from auth_server.oidc.clients import SCOPES, ClientRegistration, RegisteredClient, client_json
from auth_server.services import Services


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clients = commands.add_parser("clients", help="OpenID Connect clients (relying parties)")
    actions = clients.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="register a client; prints its secret once")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--redirect-uri", action="append", required=True, help="exact; repeat for several"
    )
    create.add_argument("--post-logout-redirect-uri", action="append", default=[])
    create.add_argument("--public", action="store_true", help="no secret; PKCE required")
    create.add_argument("--first-party", action="store_true", help="no consent page")
    create.add_argument("--scopes", default=" ".join(SCOPES), help="allowed scopes")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    listing = actions.add_parser("list", help="list the clients (never their secrets)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    rotate = actions.add_parser("rotate-secret", help="a new secret; the old one stops at once")
    rotate.add_argument("client_id")
    rotate.add_argument("--json", action="store_true")
    delete = actions.add_parser("delete", help="delete a client and revoke its sessions")
    delete.add_argument("client_id")


def run(settings: Settings, args: argparse.Namespace) -> None:
    services = Services.build(settings)
    clients = services.oidc.clients
    try:
        with services.database.session_factory() as db:
            if args.action == "create":
                registration = ClientRegistration(
                    name=args.name,
                    redirect_uris=args.redirect_uri,
                    post_logout_redirect_uris=args.post_logout_redirect_uri,
                    public=args.public,
                    first_party=args.first_party,
                    allowed_scopes=args.scopes.split(),
                )
                _print_registered(clients.create(db, registration), args.json)
            elif args.action == "list":
                for client in clients.list(db):
                    if args.json:
                        print(json.dumps(client_json(client)))
                    else:
                        kind = "public" if client.public else "confidential"
                        party = "first-party" if client.first_party else "third-party"
                        print(
                            f"{client.client_id}  {client.name!r}  {kind} {party}  "
                            f"redirect: {' '.join(client.redirect_uris)}"
                        )
            elif args.action == "rotate-secret":
                _print_registered(clients.rotate_secret(db, args.client_id), args.json)
            elif args.action == "delete":
                revoked = clients.delete(db, args.client_id)
                print(f"Deleted client {args.client_id}; {revoked} session(s) revoked")
    finally:
        services.database.dispose()


def _print_registered(registered: RegisteredClient, as_json: bool) -> None:
    """The secret is printed this once: only its hash is stored."""
    client = registered.client
    if as_json:
        print(json.dumps({**client_json(client), "clientSecret": registered.secret}))
        return
    print(f"Client id:     {client.client_id}  ({client.name})")
    if registered.secret:
        print(f"Client secret: {registered.secret}  (shown once; store it now)")
    else:
        print("Public client: no secret (PKCE required)")
