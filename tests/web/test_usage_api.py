"""Per-day usage series for the charts, the request log's filters and lookup by request
id, and the CSV export (streamed page by page)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx

from cong.accounts.principal import Principal
from cong.billing.pricing import Prices
from cong.billing.reports import Filters, Reports
from cong.billing.usage_series import usage_csv
from cong.billing.wallets import Wallets
from cong.storage.database import Database
from tests.support.gateway import RunningGateway, api, auth, run_async
from tests.support.usage_rows import record, write_usage


def _ids(gw: RunningGateway, user: str) -> tuple[int, list[str]]:
    info = api(gw, "GET", f"/api/users/{user}", gw.admin_token).json()
    keys = api(gw, "GET", f"/api/keys?user={user}", gw.admin_token).json()
    return info["id"], [k["id"] for k in keys]


def test_daily_series_per_model_and_key_with_empty_days(gateway: RunningGateway) -> None:
    gw = gateway
    token_a = gw.create_key("ser-ann")
    gw.create_key("ser-ann")
    gw.create_key("ser-bob")
    user_id, (key_a, key_b) = _ids(gw, "ser-ann")
    bob_id, (bob_key,) = _ids(gw, "ser-bob")
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    three_ago = today - timedelta(days=3)
    write_usage(
        gw,
        [
            record(three_ago, user_id, key_a, "m-one", cost=1_000, n=1),
            record(three_ago, user_id, key_a, "m-one", cost=2_000, n=2),
            record(three_ago, user_id, key_b, "m-two", cost=500, n=3),
            record(today, user_id, key_b, "m-two", cost=7_000, n=4),
            record(today, bob_id, bob_key, "m-one", cost=9_999, n=5),
        ],
    )
    since = (today - timedelta(days=4)).date().isoformat()
    until = today.date().isoformat()
    by_model = api(gw, "GET", f"/api/usage/daily?since={since}&until={until}", token_a)
    assert by_model.status_code == 200, by_model.text
    body = by_model.json()
    assert body["days"] == [
        (today - timedelta(days=d)).date().isoformat() for d in range(4, -1, -1)
    ]
    assert body["totals"]["requests"] == [0, 3, 0, 0, 1]  # bob's usage is not ann's
    assert body["totals"]["cost_micros"] == [0, 3_500, 0, 0, 7_000]
    assert body["totals"]["cost"][1] == "0.003500"
    assert body["totals"]["tokens"] == [0, 45, 0, 0, 15]
    series = {s["name"]: s for s in body["series"]}
    assert [s["name"] for s in body["series"]] == ["m-two", "m-one"]  # largest cost first
    assert series["m-one"]["requests"] == [0, 2, 0, 0, 0]
    assert series["m-two"]["cost_micros"] == [0, 500, 0, 0, 7_000]
    assert series["m-two"]["total_cost_micros"] == 7_500

    by_key = api(gw, "GET", f"/api/usage/daily?since={since}&until={until}&by=key", token_a)
    keyed = {s["name"]: s["requests"] for s in by_key.json()["series"]}
    assert keyed == {key_a: [0, 2, 0, 0, 0], key_b: [0, 1, 0, 0, 1]}
    one_key = api(gw, "GET", f"/api/usage/daily?since={since}&key={key_b}&by=none", token_a)
    assert one_key.json()["totals"]["requests"][-4:] == [1, 0, 0, 1]
    assert one_key.json()["series"] == []

    # another user's data: 404 for a user, the admin sees anyone's
    assert api(gw, "GET", "/api/usage/daily?user=ser-bob", token_a).status_code == 404
    assert api(gw, "GET", f"/api/usage/daily?key={bob_key}", token_a).status_code == 404
    bob = api(gw, "GET", f"/api/usage/daily?user=ser-bob&since={since}", gw.admin_token).json()
    assert bob["totals"]["cost_micros"][-1] == 9_999
    too_long = api(gw, "GET", "/api/usage/daily?since=2020-01-01&until=2026-01-01", token_a)
    assert too_long.status_code == 400


def test_request_log_lookup_filters_and_live_requests(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    token = gw.create_key("log-ann")
    other = gw.create_key("log-bob")
    ok = httpx.post(
        gw.base_url + "/chat/completions",
        headers=auth(token),
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    failed = httpx.post(
        gw.base_url + "/chat/completions",
        headers=auth(token),
        json={"model": "fake-400", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    request_id = ok.headers["x-request-id"]
    found = api(gw, "GET", f"/api/usage/requests/{request_id}", token)
    for _ in range(50):
        if found.status_code == 200:
            break
        found = api(gw, "GET", f"/api/usage/requests/{request_id}", token)
    assert found.status_code == 200, found.text
    assert found.json()["request_id"] == request_id and found.json()["model"] == "fake-model"
    assert api(gw, "GET", f"/api/usage/requests/{request_id}", other).status_code == 404
    assert api(gw, "GET", f"/api/usage/requests/{request_id}", gw.admin_token).status_code == 200
    errors = api(gw, "GET", "/api/usage?status=error", token).json()["data"]
    assert failed.status_code == 400
    assert [r["request_id"] for r in errors] == [failed.headers["x-request-id"]]
    oks = api(gw, "GET", "/api/usage?status=ok&endpoint=chat", token).json()["data"]
    assert [r["request_id"] for r in oks] == [request_id]
    by_id = api(gw, "GET", f"/api/usage?request_id={request_id}", token).json()["data"]
    assert len(by_id) == 1


def test_csv_export_is_streamed_in_pages(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    token = gw.create_key("csv-ann")
    user_id, (key_id,) = _ids(gw, "csv-ann")
    start = datetime.now(UTC) - timedelta(hours=2)
    rows = [record(start, user_id, key_id, '=HYPERLINK("http://x",1)', n=-1)]
    rows += [
        record(start + timedelta(seconds=i), user_id, key_id, "m-csv", cost=i, n=i)
        for i in range(1_200)
    ]
    write_usage(gw, rows)

    with httpx.stream("GET", gw.url + "/api/usage/export.csv", headers=auth(token)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        text = response.read().decode()
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 1_201 and table[0]["model"] == "m-csv"
    assert table[0]["cost"] == "0.001199"  # newest first
    assert {r["user"] for r in table} == {"csv-ann"}
    formula = [r["model"] for r in table if "HYPERLINK" in r["model"]]
    assert formula == ['\'=HYPERLINK("http://x",1)']  # never a live spreadsheet formula
    assert table[0]["channel"] == ""  # the channel is for admins only
    filtered = api(gw, "GET", "/api/usage/export.csv?model=m-nothing", token)
    assert filtered.text.count("\r\n") == 1  # the header only
    assert api(gw, "GET", "/api/usage/export.csv?user=admin", token).status_code == 404

    # the generator reads one page at a time: memory is one page, not the whole log
    async def chunks() -> list[str]:
        db = Database(gw.settings.effective_database_url)
        try:
            reports = Reports(db, Wallets(db, Prices(db)))
            actor = Principal(
                user_id=user_id,
                user_name="csv-ann",
                role="user",
                key_id=key_id,
                allowed_models=None,
            )
            return [c async for c in usage_csv(reports, actor, Filters(), page=100)]
        finally:
            await db.close()

    pages = run_async(chunks)
    assert len(pages) == 1 + 13 and all(p.count("\r\n") <= 100 for p in pages)
