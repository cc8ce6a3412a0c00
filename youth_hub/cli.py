"""The `youth-hub` command. Errors: one sentence on stderr and a non-zero exit code."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from youth_hub import db
from youth_hub.settings import Settings, SettingsError

ROLES = ("admin", "dinporapar", "organiser", "scanner")


class CommandError(Exception):
    """A user-facing failure: printed as one sentence, exit code 1."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="youth-hub", description="Youth Hub Purbalingga")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="apply pending migrations, then serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--no-scheduler", action="store_true", help="run no scheduler in the web workers"
    )

    sub.add_parser("migrate", help="apply pending migrations and exit")

    demo = sub.add_parser("demo", help="load the demo data (idempotent) and print the demo logins")
    demo.add_argument(
        "--if-empty", action="store_true", help="only when the database has no programs"
    )

    user = sub.add_parser("user", help="staff users").add_subparsers(dest="action", required=True)
    add_user = user.add_parser(
        "add", help="create a staff user (password from stdin, or generated)"
    )
    add_user.add_argument("--email", required=True)
    add_user.add_argument("--role", required=True, choices=ROLES)
    add_user.add_argument("--name", default="")

    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="action", required=True)
    add_token = token.add_parser("add", help="print a new API token for a staff user")
    add_token.add_argument("--email", required=True)

    keys = sub.add_parser("keys", help="ticket-signing keys").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("rotate", help="add a new signing key; older keys stay valid")

    sub.add_parser("scheduler", help="run the scheduler alone")
    return parser


async def _with_database(settings: Settings, work: Callable[[], Awaitable[Any]]) -> Any:
    """Run `work` on the database, migrated first (a fresh data dir just works)."""
    engine = db.make_engine(settings.database_url)
    db.use_engine(engine)
    await db.start(engine)
    try:
        await db.migrate(engine, settings.database_url)
        return await work()
    finally:
        await db.stop(engine)


async def _nothing() -> None:
    return None


def _read_password() -> str | None:
    if sys.stdin is None or sys.stdin.isatty():
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    return password or None


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    asyncio.run(_with_database(settings, _nothing))
    if args.no_scheduler:
        os.environ["YOUTH_HUB_SCHEDULER"] = "off"  # read by Settings in each worker
    print(f"Youth Hub serving on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(
        "youth_hub.asgi:app_factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level="info",
    )


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    command = args.command

    if command == "serve":
        _serve(settings, args)
        return 0
    if command == "migrate":
        asyncio.run(_with_database(settings, _nothing))
        print("Migrations applied.")
        return 0
    if command == "demo":
        from youth_hub.catalog.demo import load_demo

        async def demo() -> None:
            logins = await load_demo(if_empty=args.if_empty)
            if logins is None:
                print("The database already holds programs; demo data not loaded.")
                return
            print("Demo data loaded. Staff logins:")
            for email, role, password in logins:
                print(f"  {role:<11} {email}  password: {password}")

        asyncio.run(_with_database(settings, demo))
        return 0
    if command == "user":
        from youth_hub.accounts.services import create_staff_user

        given = _read_password()

        async def add_user() -> None:
            _, password = await create_staff_user(
                email=args.email, role=args.role, name=args.name, password=given
            )
            print(f"Created {args.role} {args.email}.")
            if given is None:
                print(f"Password: {password}")

        asyncio.run(_with_database(settings, add_user))
        return 0
    if command == "token":
        from youth_hub.accounts.services import create_api_token

        async def add_token() -> None:
            print(await create_api_token(email=args.email))

        asyncio.run(_with_database(settings, add_token))
        return 0
    if command == "keys":
        from youth_hub.tickets.keys import rotate_keys

        kid = rotate_keys(settings.data_dir)
        print(f"New ticket-signing key {kid}; older keys stay valid.")
        return 0
    if command == "scheduler":
        from youth_hub.messaging.scheduler import run_scheduler_forever

        asyncio.run(run_scheduler_forever(settings))
        return 0
    raise CommandError(f"Unknown command {command}.")


def main(argv: Sequence[str] | None = None) -> None:
    try:
        code = run(argv)
    except (CommandError, SettingsError) as exc:
        print(f"youth-hub: {exc}", file=sys.stderr)
        code = 1
    except Exception as exc:  # a domain error from a service: one sentence, no traceback
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        print(f"youth-hub: {message}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
