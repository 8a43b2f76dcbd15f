"""``cong channels …``: manage upstream channels in the database."""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from cong.channels.check import check_channel
from cong.channels.secrets_box import SecretBox
from cong.channels.service import ChannelPatch, Channels, ChannelSpec
from cong.cli.output import print_table
from cong.cli.runtime import run_command
from cong.providers.registry import protocol_names
from cong.settings import Settings

T = TypeVar("T")


def _run(action: Callable[[Channels], Awaitable[T]]) -> T:
    return run_command(lambda rt: action(Channels(rt.db, SecretBox(rt.secret), rt.settings)))


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _mapping(value: str | None) -> dict[str, str]:
    pairs = [p.split("=", 1) for p in _split(value)]
    if any(len(p) != 2 for p in pairs):
        raise SystemExit("error: --model-map takes public=upstream pairs, comma-separated")
    return {a.strip(): b.strip() for a, b in pairs}


def _spec(**fields: Any) -> ChannelSpec:
    """The channel as given, or a one-line error naming the option that is wrong."""
    try:
        return ChannelSpec(**fields)
    except ValidationError as error:
        first = error.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "a value"
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise SystemExit(f"error: {option}: {reason}") from None


def cmd_add(args: argparse.Namespace) -> int:
    keys = list(args.key or [])
    if args.key_stdin:
        keys += [line.strip() for line in sys.stdin if line.strip()]
    spec = _spec(
        name=args.name,
        type=args.type,
        base_url=args.base_url,
        api_keys=keys,
        api_version=args.api_version,
        models=_split(args.models),
        embedding_models=_split(args.embedding_models),
        image_models=_split(args.image_models),
        text_only_models=_split(args.text_only_models),
        model_map=_mapping(args.model_map),
        priority=args.priority,
        weight=args.weight,
        groups=_split(args.groups) if args.groups is not None else None,
    )
    view = _run(lambda c: c.create(spec))
    print(
        f"Added channel {view.name} (id {view.id}) serving "
        f"{', '.join(view.models + view.embedding_models + view.image_models) or 'no models'}."
    )
    return 0


def _live_circuits(settings: Settings) -> dict[str, str]:
    """Circuit states from the running server's /api/status (empty if it is not running,
    or without ``CONG_ADMIN_TOKEN``: only admins see channels there): the in-process
    view, which includes config-file channels."""
    if settings.admin_token is None:
        return {}
    request = urllib.request.Request(
        settings.base_url + "/api/status",
        headers={"authorization": f"Bearer {settings.admin_token.get_secret_value()}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            status = json.loads(response.read())
    except (OSError, ValueError):
        return {}
    upstreams = status.get("upstreams")
    circuits: dict[str, str] = {}
    for upstream in upstreams if isinstance(upstreams, list) else []:
        name = str(upstream.get("name", "")).split("#", 1)[0]
        if upstream.get("circuit") not in (None, "closed"):
            circuits[name] = f"{upstream['circuit']} ({upstream.get('cooldown_remaining', 0)} s)"
    return circuits


def cmd_list(args: argparse.Namespace) -> int:
    views = _run(lambda c: c.list_all())
    circuits = _live_circuits(Settings.load())
    rows: list[dict[str, Any]] = []
    for v in views:
        row = v.model_dump()
        row["id"] = v.id if v.id is not None else "(config)"
        row["models"] = ",".join(v.models + v.embedding_models + v.image_models)
        row["keys"] = " ".join(v.keys)
        row["state"] = "enabled" if v.enabled else "disabled"
        if v.name in circuits:
            row["state"] += f", circuit {circuits[v.name]}"
        elif v.cooldown_until is not None and v.cooldown_until.timestamp() > time.time():
            row["state"] += f", cooling until {v.cooldown_until:%H:%M:%S}"
        rows.append(row)
    print_table(
        rows, ["id", "name", "type", "models", "priority", "weight", "keys", "state", "last_error"]
    )
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    async def test(channels: Channels) -> Any:
        return await check_channel(await channels.config_of(args.ref), args.model)

    result = _run(test)
    if result.ok:
        print(f"OK: {result.model} answered in {result.latency_ms} ms")
        return 0
    print(f"FAILED: {result.model or args.ref}: {result.error}", file=sys.stderr)
    return 1


def _set_enabled(ref: str, enabled: bool) -> int:
    view = _run(lambda c: c.update(ref, ChannelPatch(enabled=enabled)))
    print(f"Channel {view.name} {'enabled' if enabled else 'disabled'}.")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    _run(lambda c: c.remove(args.ref))
    print(f"Removed channel {args.ref}.")
    return 0


def register(sub: Any) -> None:
    channels = sub.add_parser("channels", help="manage upstream channels").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = channels.add_parser("add", help="add a channel (an upstream account)")
    add.add_argument("name")
    add.add_argument(
        "--type",
        choices=protocol_names(),
        default="openai",
        help="the upstream's protocol (default openai)",
    )
    add.add_argument("--base-url", required=True)
    add.add_argument("--key", action="append", help="an API key (repeat for several)")
    add.add_argument(
        "--key-stdin",
        action="store_true",
        help="read keys from standard input, one per line (keeps them out of the shell history)",
    )
    add.add_argument("--api-version", help="Azure api-version / Anthropic version")
    add.add_argument("--models", help="chat model ids, comma-separated")
    add.add_argument("--embedding-models", help="embedding model ids")
    add.add_argument("--image-models", help="image model ids")
    add.add_argument("--text-only-models", help="chat models that must not get images")
    add.add_argument("--model-map", help="public=upstream name pairs, comma-separated")
    add.add_argument("--priority", type=int, default=0, help="higher tiers are tried first")
    add.add_argument("--weight", type=int, default=1, help="share inside a priority tier")
    add.add_argument("--groups", help="user groups allowed (default: all)")
    add.set_defaults(func=cmd_add)
    channels.add_parser("list", help="channels with masked keys and health").set_defaults(
        func=cmd_list
    )
    test = channels.add_parser("test", help="send one minimal real request")
    test.add_argument("ref", help="channel id or name")
    test.add_argument("--model", help="which of its models (default: the first)")
    test.set_defaults(func=cmd_test)
    for name, enabled in (("enable", True), ("disable", False)):
        p = channels.add_parser(name, help=f"{name} a channel")
        p.add_argument("ref", help="channel id or name")
        p.set_defaults(func=lambda a, e=enabled: _set_enabled(a.ref, e))
    remove = channels.add_parser("remove", help="remove a channel")
    remove.add_argument("ref", help="channel id or name")
    remove.set_defaults(func=cmd_remove)
