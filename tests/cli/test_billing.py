"""``cong groups|wallet|prices|codes|usage`` and the new ``users``/``keys`` options, run
as an operator would run them."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from tests.cli.test_main import cong


def test_groups_users_and_keys(tmp_path: Path) -> None:
    made = cong(
        tmp_path,
        "groups",
        "create",
        "team",
        "--models",
        "fake-model,fake-echo",
        "--multiplier",
        "1.5",
        "--rpm",
        "60",
    )
    assert "Created group team" in made.stdout
    listed = cong(tmp_path, "groups", "list").stdout
    assert re.search(r"team\s+fake-echo,fake-model\s+1\.5\s+60", listed), listed
    assert "default" in listed

    user = cong(tmp_path, "users", "create", "zoe", "--group", "team", "--credit-limit", "2.5")
    assert "group team" in user.stdout
    users = cong(tmp_path, "users", "list").stdout
    assert re.search(r"zoe\s+user\s+team\s+0\.000000\s+2\.500000", users), users
    bad = cong(tmp_path, "users", "create", "yan", "--group", "nope", check=False)
    assert bad.returncode == 1 and "No group 'nope'" in bad.stderr
    moved = cong(tmp_path, "users", "update", "zoe", "--credit-limit", "1", "--role", "admin")
    assert "role admin" in moved.stdout

    token = cong(
        tmp_path,
        "keys",
        "create",
        "--user",
        "zoe",
        "--name",
        "ci",
        "--expires",
        "30",
        "--spend-cap",
        "5",
        "--period-cap",
        "1.5",
        "--period",
        "day",
        "--ip",
        "10.0.0.0/8",
        "127.0.0.1",
        "--rpm",
        "10",
        "--tpm",
        "1000",
    ).stdout.strip()
    assert token.startswith("sk-")
    keys = cong(tmp_path, "keys", "list", "--user", "zoe").stdout
    assert token[3:15] in keys and token not in keys
    rows = (
        sqlite3.connect(tmp_path / "data" / "cong.db")
        .execute(
            "SELECT spend_cap, period_cap, period, ip_allow, rpm, tpm, expires_at FROM api_keys "
            "WHERE public_id = ?",
            (token[3:15],),
        )
        .fetchall()
    )
    cap, period_cap, period, ips, rpm, tpm, expires = rows[0]
    assert (cap, period_cap, period, rpm, tpm) == (5_000_000, 1_500_000, "day", 10, 1000)
    assert ips == '["10.0.0.0/8", "127.0.0.1/32"]' and expires is not None
    precise = cong(
        tmp_path, "keys", "create", "--user", "zoe", "--spend-cap", "0.1234567", check=False
    )
    assert precise.returncode == 1 and "6 decimal places" in precise.stderr

    cong(
        tmp_path,
        "groups",
        "update",
        "team",
        "--all-models",
        "--multiplier",
        "0.75",
        "--rpm",
        "0",
        "--rename",
        "crew",
    )
    listed = cong(tmp_path, "groups", "list").stdout
    assert re.search(r"crew\s+\*\s+0\.75\s", listed), listed
    assert "Deleted group crew" in cong(tmp_path, "groups", "delete", "crew").stdout
    assert re.search(r"zoe\s+admin\s+default", cong(tmp_path, "users", "list").stdout)


def test_wallet_prices_codes_and_usage(tmp_path: Path) -> None:
    cong(tmp_path, "users", "create", "max")
    up = cong(tmp_path, "wallet", "topup", "max", "10.5", "--note", "invoice 7")
    assert "balance 10.500000" in up.stdout
    down = cong(tmp_path, "wallet", "adjust", "max", "-0.25")
    assert "balance 10.250000" in down.stdout
    shown = cong(tmp_path, "wallet", "show", "max").stdout
    assert "Balance:       10.250000" in shown and "Credit limit:  0.000000" in shown
    assert re.search(r"topup\s+10\.500000\s+invoice 7", shown), shown
    assert re.search(r"adjustment\s+-0\.250000", shown), shown
    negative = cong(tmp_path, "wallet", "topup", "max", "-1", check=False)
    assert negative.returncode == 1 and "must not be negative" in negative.stderr

    priced = cong(
        tmp_path,
        "prices",
        "set",
        "openai/gpt-4o",
        "--input",
        "2.5",
        "--cached-input",
        "1.25",
        "--output",
        "10",
        "--per-call",
        "0.001",
    )
    assert "input 2.500000" in priced.stdout and "per call 0.001000" in priced.stdout
    database = sqlite3.connect(tmp_path / "data" / "cong.db")
    stored = database.execute(
        "SELECT input_per_m, cached_input_per_m, output_per_m, per_call, per_image FROM prices "
        "WHERE model = 'openai/gpt-4o'"
    ).fetchone()
    assert stored == (2_500_000, 1_250_000, 10_000_000, 1_000, 0)
    listed = cong(tmp_path, "prices", "list").stdout
    assert re.search(r"openai/gpt-4o\s+2\.500000\s+1\.250000\s+10\.000000", listed), listed

    made = cong(
        tmp_path,
        "codes",
        "create",
        "--amount",
        "5",
        "--count",
        "3",
        "--batch",
        "promo",
        "--expires",
        "30",
    )
    codes = made.stdout.split()
    assert len(codes) == 3 and all(c.startswith("CONG-") for c in codes)
    assert "not shown again" in made.stderr and "batch promo" in made.stderr
    listing = cong(tmp_path, "codes", "list", "--batch", "promo").stdout
    assert listing.count("active") == 3 and all(c not in listing for c in codes)
    stored_file = (tmp_path / "data" / "cong.db").read_bytes()
    stored_file += (
        (tmp_path / "data" / "cong.db-wal").read_bytes()
        if (tmp_path / "data" / "cong.db-wal").exists()
        else b""
    )
    assert all(c.encode() not in stored_file for c in codes)

    usage = cong(tmp_path, "usage", "--user", "max", "--since", "2020-01-01", "--limit", "5")
    assert usage.stdout.split()[:4] == ["TIME", "USER", "KEY_ID", "MODEL"]
    unknown = cong(tmp_path, "usage", "--user", "nobody", check=False)
    assert unknown.returncode == 1 and "No user 'nobody'" in unknown.stderr
