"""``cong``: serve the gateway and manage it from the command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from cong import __version__
from cong.accounts.key_settings import KeySettings
from cong.accounts.service import Accounts
from cong.cli import billing as cli_billing
from cong.cli import channels as cli_channels
from cong.cli.output import print_table
from cong.cli.runtime import run_command
from cong.money import money, optional_micros, to_micros
from cong.protocol.errors import APIError
from cong.settings import Settings
from cong.storage.database import migrate

T = TypeVar("T")


def _accounts_call(settings: Settings, action: Callable[[Accounts], Awaitable[T]]) -> T:
    return run_command(lambda rt: action(Accounts(rt.db, rt.secret, cache_seconds=0)), settings)


def cmd_serve(args: argparse.Namespace) -> int:
    from cong.cli.serve import serve

    for flag, env in (("host", "CONG_HOST"), ("port", "CONG_PORT"), ("workers", "CONG_WORKERS")):
        value = getattr(args, flag)
        if value is not None:
            os.environ[env] = str(value)
    if args.no_model_server:
        os.environ["CONG_MODEL_SERVER__ENABLED"] = "false"
    return serve(Settings.load())


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = Settings.load()
    migrate(settings.effective_database_url, args.revision)
    print(f"Database migrated to {args.revision}.")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    print(json.dumps(Settings.load().masked(), indent=2, ensure_ascii=False))
    return 0


def cmd_users_create(args: argparse.Namespace) -> int:
    limit = to_micros(args.credit_limit, param="--credit-limit")
    user = _accounts_call(
        Settings.load(),
        lambda a: a.create_user(args.name, args.role, group=args.group, credit_limit=limit),
    )
    print(f"Created user {user.name} (id {user.id}, role {user.role}, group {user.group}).")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    users = _accounts_call(Settings.load(), lambda a: a.list_users())
    rows = [
        {**asdict(u), "balance": money(u.balance), "credit_limit": money(u.credit_limit)}
        for u in users
    ]
    columns = ["id", "name", "role", "group", "balance", "credit_limit", "enabled"]
    print_table(rows, [*columns, "created_at"])
    return 0


def cmd_users_update(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    for field in ("role", "group"):
        if getattr(args, field) is not None:
            changes[field] = getattr(args, field)
    if args.credit_limit is not None:
        changes["credit_limit"] = to_micros(args.credit_limit, param="--credit-limit")
    if args.enabled is not None:
        changes["enabled"] = args.enabled
    user = _accounts_call(Settings.load(), lambda a: a.update_user(args.name, **changes))
    print(f"Updated user {user.name} (role {user.role}, group {user.group}).")
    return 0


def _days(text: str) -> int:
    """A key's lifetime in days: a whole number from 1 to 36,500 (argparse says so)."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 1 <= days <= 36_500:
        raise argparse.ArgumentTypeError("a key is valid for 1 to 36500 days")
    return days


def cmd_keys_create(args: argparse.Namespace) -> int:
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    expires = datetime.now(UTC) + timedelta(days=args.expires) if args.expires is not None else None
    settings = KeySettings(
        name=args.name,
        models=models,
        expires_at=expires,
        spend_cap=optional_micros(args.spend_cap, param="--spend-cap"),
        period_cap=optional_micros(args.period_cap, param="--period-cap"),
        period=args.period,
        ip_allow=args.ip,
        rpm=args.rpm,
        tpm=args.tpm,
    )
    new, view = _accounts_call(
        Settings.load(), lambda a: a.create_key(args.user, settings=settings)
    )
    print(new.token)
    print(
        f"Key {view.id} for {view.user}"
        + (f" (models: {', '.join(view.models)})" if view.models else "")
        + ". Store it now: it is not shown again.",
        file=sys.stderr,
    )
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    keys = _accounts_call(Settings.load(), lambda a: a.list_keys(args.user))
    rows = [
        {
            **asdict(k),
            "models": ",".join(k.models) if k.models else "*",
            "state": "active" if k.enabled else "revoked",
        }
        for k in keys
    ]
    print_table(rows, ["id", "name", "user", "masked", "models", "state", "created_at"])
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    _accounts_call(Settings.load(), lambda a: a.revoke_key(args.id))
    print(f"Revoked key {args.id}.")
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from cong.channels.catalog import build_catalog
    from cong.channels.service import config_channels

    settings = Settings.load()
    catalog = build_catalog(settings, config_channels(settings))
    rows: list[dict[str, Any]] = [
        {"id": r.id, "kind": r.kind, "upstream": r.channel, "upstream_model": r.upstream_model}
        for routes in catalog.routes.values()
        for r in routes
    ]
    rows += [
        {"id": alias, "kind": catalog.routes[target][0].kind, "upstream": f"alias of {target}"}
        for alias, target in catalog.aliases.items()
    ]
    print_table(rows, ["id", "kind", "upstream", "upstream_model"])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cong",
        description="Cổng: a self-hosted, OpenAI-compatible LLM API gateway. Settings come "
        "from cong.toml (or CONG_CONFIG) and CONG_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"cong {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="migrate, start the model server and the gateway")
    serve.add_argument("--host", help="bind address (CONG_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (CONG_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="gateway worker processes (CONG_WORKERS)")
    serve.add_argument(
        "--no-model-server",
        action="store_true",
        help="do not start the embedded models (CONG_MODEL_SERVER__ENABLED=false)",
    )
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.add_argument("--revision", default="head", help="target revision (default: head)")
    mig.set_defaults(func=cmd_migrate)

    config = sub.add_parser("config", help="inspect settings").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    config.add_parser("show", help="print the effective settings, secrets masked").set_defaults(
        func=cmd_config_show
    )

    users = sub.add_parser("users", help="manage users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = users.add_parser("create", help="create a user")
    create.add_argument("name")
    create.add_argument("--role", choices=["user", "admin"], default="user")
    create.add_argument("--group", help="the user's group (default: the default group)")
    create.add_argument("--credit-limit", default="0", help="how far below zero (e.g. 5)")
    create.set_defaults(func=cmd_users_create)
    users.add_parser("list", help="list users").set_defaults(func=cmd_users_list)
    uupdate = users.add_parser("update", help="change a user's role, group or credit limit")
    uupdate.add_argument("name", help="user name or id")
    uupdate.add_argument("--role", choices=["user", "admin"])
    uupdate.add_argument("--group")
    uupdate.add_argument("--credit-limit")
    uupdate.add_argument("--enable", dest="enabled", action="store_true", default=None)
    uupdate.add_argument("--disable", dest="enabled", action="store_false")
    uupdate.set_defaults(func=cmd_users_update)

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    kcreate = keys.add_parser("create", help="create a key and print it (shown once)")
    kcreate.add_argument("--user", required=True, help="owner's user name")
    kcreate.add_argument("--name", default="", help="a label for the key")
    kcreate.add_argument(
        "--models", help="comma-separated model ids the key may use (default: all)"
    )
    kcreate.add_argument(
        "--expires", type=_days, metavar="DAYS", help="valid for DAYS days (1 to 36500)"
    )
    kcreate.add_argument("--spend-cap", help="lifetime spend cap in currency units")
    kcreate.add_argument("--period-cap", help="spend cap per --period")
    kcreate.add_argument("--period", choices=["day", "month"], help="default: month")
    kcreate.add_argument(
        "--ip", nargs="+", action="extend", metavar="CIDR", help="allowed client IPs / CIDRs"
    )
    kcreate.add_argument("--rpm", type=int, help="requests per minute")
    kcreate.add_argument("--tpm", type=int, help="tokens per minute")
    kcreate.set_defaults(func=cmd_keys_create)
    klist = keys.add_parser("list", help="list keys (masked)")
    klist.add_argument("--user", help="only this user's keys")
    klist.set_defaults(func=cmd_keys_list)
    krevoke = keys.add_parser("revoke", help="revoke a key by its id")
    krevoke.add_argument("id", help="the key id shown by 'cong keys list'")
    krevoke.set_defaults(func=cmd_keys_revoke)

    cli_channels.register(sub)
    cli_billing.register(sub)

    models = sub.add_parser("models", help="inspect the model catalog").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    models.add_parser("list", help="models and aliases the settings define").set_defaults(
        func=cmd_models_list
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except APIError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
