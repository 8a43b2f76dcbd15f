"""``cong groups|wallet|prices|codes|usage …``: the operator's billing actions. Amounts
are decimal currency units (``2.5``), converted exactly to integer micro-units."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from cong.accounts.groups import Groups
from cong.accounts.principal import Principal
from cong.accounts.service import Accounts
from cong.billing.codes import Codes
from cong.billing.price_book import PriceBook
from cong.billing.pricing import Prices
from cong.billing.reports import Filters, Reports
from cong.billing.wallets import Wallets
from cong.cli.output import print_table
from cong.cli.runtime import Runtime, run_command
from cong.money import money, ppm_text, to_micros, to_ppm

T = TypeVar("T")
# The command line acts as the operator: it sees and manages everything.
OPERATOR = Principal(user_id=0, user_name="(cli)", role="admin", key_id="", allowed_models=None)
PRICE_OPTIONS = {
    "input": "input_per_m",
    "cached_input": "cached_input_per_m",
    "output": "output_per_m",
    "per_call": "per_call",
    "per_image": "per_image",
}


@dataclass
class Toolkit:
    accounts: Accounts
    groups: Groups
    codes: Codes
    prices: PriceBook
    reports: Reports


def run(action: Callable[[Toolkit], Awaitable[T]]) -> T:
    def toolkit(rt: Runtime) -> Awaitable[T]:
        prices = Prices(rt.db, 0)
        return action(
            Toolkit(
                accounts=Accounts(rt.db, rt.secret, cache_seconds=0),
                groups=Groups(rt.db),
                codes=Codes(rt.db, rt.secret),
                # No alias check: which names are aliases depends on the channels a
                # running server serves (a default alias such as gpt-4o may be a real
                # model of an upstream); the API refuses prices on aliases.
                prices=PriceBook(rt.db, prices),
                reports=Reports(rt.db, Wallets(rt.db, prices)),
            )
        )

    return run_command(toolkit)


def split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def days_from_now(days: int | None) -> datetime | None:
    return None if days is None else datetime.now(UTC) + timedelta(days=days)


def cmd_groups_create(args: argparse.Namespace) -> int:
    view = run(
        lambda t: t.groups.create(
            args.name,
            models=split(args.models) if args.models is not None else None,
            multiplier_ppm=to_ppm(args.multiplier, param="--multiplier"),
            rpm=args.rpm,
            tpm=args.tpm,
        )
    )
    print(f"Created group {view.name} (id {view.id}).")
    return 0


def cmd_groups_list(args: argparse.Namespace) -> int:
    rows = [
        {
            **asdict(g),
            "models": ",".join(g.models) if g.models is not None else "*",
            "multiplier": ppm_text(g.multiplier_ppm),
        }
        for g in run(lambda t: t.groups.list_all())
    ]
    print_table(rows, ["id", "name", "models", "multiplier", "rpm", "tpm", "members"])
    return 0


def cmd_groups_update(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.rename is not None:
        changes["name"] = args.rename
    if args.all_models:
        changes["models"] = None
    elif args.models is not None:
        changes["models"] = split(args.models)
    if args.multiplier is not None:
        changes["multiplier_ppm"] = to_ppm(args.multiplier, param="--multiplier")
    for limit in ("rpm", "tpm"):
        value = getattr(args, limit)
        if value is not None:
            changes[limit] = value or None  # 0 removes the limit
    view = run(lambda t: t.groups.update(args.name, **changes))
    print(f"Updated group {view.name}.")
    return 0


def cmd_groups_delete(args: argparse.Namespace) -> int:
    run(lambda t: t.groups.delete(args.name))
    print(f"Deleted group {args.name}; its members are now in the default group.")
    return 0


def cmd_wallet_credit(args: argparse.Namespace) -> int:
    topup = args.action == "topup"
    amount = to_micros(args.amount, param="AMOUNT", allow_negative=not topup)
    kind = "topup" if topup else "adjustment"
    wallet = run(lambda t: t.reports.credit(args.user, amount, kind, args.note or ""))
    verb = "Topped up" if topup else "Adjusted"
    print(f"{verb} {wallet.user} by {money(amount)}; balance {money(wallet.balance)}.")
    return 0


def cmd_wallet_show(args: argparse.Namespace) -> int:
    wallet = run(lambda t: t.reports.wallet(None, args.user, args.recent))
    print(f"User:          {wallet.user} (id {wallet.user_id})")
    print(f"Balance:       {money(wallet.balance)}")
    print(f"Credit limit:  {money(wallet.credit_limit)}")
    print(f"Available:     {money(wallet.available)}")
    print(f"Open holds:    {wallet.open_reservations}")
    print()
    rows = [{**asdict(e), "amount": money(e.amount)} for e in wallet.recent]
    print_table(rows, ["id", "created_at", "kind", "amount", "request_id", "key_id", "note"])
    return 0


def cmd_prices_set(args: argparse.Namespace) -> int:
    fields = {
        column: to_micros(getattr(args, option), param="--" + option.replace("_", "-"))
        for option, column in PRICE_OPTIONS.items()
        if getattr(args, option) is not None
    }
    view = run(lambda t: t.prices.set(args.model, **fields))
    print(
        f"Price of {view.model} per 1M tokens: input {money(view.input_per_m)}, cached input "
        f"{money(view.cached_input_per_m)}, output {money(view.output_per_m)}; per call "
        f"{money(view.per_call)}, per image {money(view.per_image)}."
    )
    return 0


def cmd_prices_list(args: argparse.Namespace) -> int:
    rows = [
        {"model": p.model, **{option: money(getattr(p, c)) for option, c in PRICE_OPTIONS.items()}}
        for p in run(lambda t: t.prices.list_all())
    ]
    print_table(rows, ["model", *PRICE_OPTIONS])
    return 0


def cmd_prices_delete(args: argparse.Namespace) -> int:
    run(lambda t: t.prices.delete(args.model))
    print(f"Removed the price of {args.model}.")
    return 0


def cmd_codes_create(args: argparse.Namespace) -> int:
    amount = to_micros(args.amount, param="--amount")
    batch = run(
        lambda t: t.codes.create(
            amount, args.count, batch=args.batch, expires_at=days_from_now(args.expires)
        )
    )
    for code in batch.codes:
        print(code)
    until = f", valid until {batch.expires_at:%Y-%m-%d %H:%M} UTC" if batch.expires_at else ""
    print(
        f"{len(batch.codes)} code(s) worth {money(amount)} in batch {batch.batch}{until}. "
        "Store them now: they are not shown again.",
        file=sys.stderr,
    )
    return 0


def cmd_codes_list(args: argparse.Namespace) -> int:
    codes = run(lambda t: t.codes.list_codes(batch=args.batch, limit=args.limit))
    rows = [{**asdict(c), "state": c.state, "amount": money(c.amount)} for c in codes]
    print_table(rows, ["id", "batch", "masked", "amount", "state", "redeemed_by", "expires_at"])
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    def since(value: date | None) -> datetime | None:
        return datetime(value.year, value.month, value.day, tzinfo=UTC) if value else None

    filters = Filters(
        user=args.user,
        key=args.key,
        model=args.model,
        since=since(args.since),
        until=since(args.until),
    )
    page = run(lambda t: t.reports.usage(OPERATOR, filters, None, args.limit))
    rows = [
        {
            **asdict(r),
            "time": f"{r.created_at:%Y-%m-%d %H:%M:%S}",
            "tokens": f"{r.prompt_tokens}/{r.completion_tokens}",
            "cost": money(r.cost),
        }
        for r in page.data
    ]
    columns = ["time", "user", "key_id", "model", "channel", "tokens", "cost", "status"]
    print_table(rows, [*columns, "latency_ms", "end_reason"])
    return 0


def register(sub: Any) -> None:
    groups = sub.add_parser("groups", help="manage user groups").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = groups.add_parser("create", help="create a group")
    create.add_argument("name")
    create.add_argument("--models", help="comma-separated models members may use (default: all)")
    create.add_argument("--multiplier", default="1", help="price multiplier (default 1)")
    create.add_argument("--rpm", type=int, help="requests per minute, per member")
    create.add_argument("--tpm", type=int, help="tokens per minute, per member")
    create.set_defaults(func=cmd_groups_create)
    groups.add_parser("list", help="list groups").set_defaults(func=cmd_groups_list)
    update = groups.add_parser("update", help="change a group")
    update.add_argument("name")
    update.add_argument("--rename", help="a new name")
    update.add_argument("--models", help="comma-separated models members may use")
    update.add_argument("--all-models", action="store_true", help="allow every model")
    update.add_argument("--multiplier", help="price multiplier")
    update.add_argument("--rpm", type=int, help="requests per minute per member (0: none)")
    update.add_argument("--tpm", type=int, help="tokens per minute per member (0: none)")
    update.set_defaults(func=cmd_groups_update)
    delete = groups.add_parser("delete", help="delete a group (members move to default)")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_groups_delete)

    wallet = sub.add_parser("wallet", help="wallets: top up, adjust, show").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    for name, text in (("topup", "add funds"), ("adjust", "correct by a signed amount")):
        credit = wallet.add_parser(name, help=text)
        credit.add_argument("user", help="user name or id")
        credit.add_argument("amount", help="in currency units, e.g. 10 or 2.5")
        credit.add_argument("--note", help="a note for the ledger")
        credit.set_defaults(func=cmd_wallet_credit)
    show = wallet.add_parser("show", help="balance, credit limit and recent ledger")
    show.add_argument("user", help="user name or id")
    show.add_argument("--recent", type=int, default=20, help="ledger entries (default 20)")
    show.set_defaults(func=cmd_wallet_show)

    prices = sub.add_parser("prices", help="model prices").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    price = prices.add_parser("set", help="set a model's prices (others keep their value)")
    price.add_argument("model")
    for option, text in (
        ("input", "per 1M input tokens"),
        ("cached_input", "per 1M cached input tokens"),
        ("output", "per 1M output tokens"),
        ("per_call", "per request"),
        ("per_image", "per generated image"),
    ):
        price.add_argument("--" + option.replace("_", "-"), dest=option, help=text)
    price.set_defaults(func=cmd_prices_set)
    prices.add_parser("list", help="list prices").set_defaults(func=cmd_prices_list)
    unprice = prices.add_parser("delete", help="remove a model's price")
    unprice.add_argument("model")
    unprice.set_defaults(func=cmd_prices_delete)

    codes = sub.add_parser("codes", help="redemption codes").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    make = codes.add_parser("create", help="create codes and print them (shown once)")
    make.add_argument("--amount", required=True, help="value of each code")
    make.add_argument("--count", type=int, default=1)
    make.add_argument("--batch", help="a name for the batch")
    make.add_argument("--expires", type=int, metavar="DAYS", help="valid for DAYS days")
    make.set_defaults(func=cmd_codes_create)
    listing = codes.add_parser("list", help="list codes, masked")
    listing.add_argument("--batch")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(func=cmd_codes_list)

    usage = sub.add_parser("usage", help="the request log, newest first")
    usage.add_argument("--user", help="user name or id")
    usage.add_argument("--key", help="key id")
    usage.add_argument("--model")
    usage.add_argument("--since", type=date.fromisoformat, metavar="DATE", help="YYYY-MM-DD")
    usage.add_argument("--until", type=date.fromisoformat, metavar="DATE", help="YYYY-MM-DD")
    usage.add_argument("--limit", type=int, default=50)
    usage.set_defaults(func=cmd_usage)
