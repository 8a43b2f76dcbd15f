"""Prometheus ``/metrics``: admin key only; requests, latency and time to first token,
tokens and cost per model, upstream errors and circuit states per channel, and the usage
writer's backlog, in the text format Prometheus parses."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.billing import fund, set_price
from tests.support.gateway import RunningGateway, api

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_need_an_admin_key(sqlite_gateway: RunningGateway) -> None:
    assert httpx.get(sqlite_gateway.url + "/metrics").status_code == 401
    user = sqlite_gateway.create_key("metrics-peeker")
    assert api(sqlite_gateway, "GET", "/metrics", user).status_code == 403


def test_metrics_count_requests_tokens_cost_and_upstream_health(
    sqlite_gateway: RunningGateway,
) -> None:
    gw = sqlite_gateway
    admin = gw.admin_token
    set_price(gw, "fake-model", input_per_m=1_000_000, output_per_m=2_000_000)
    user = gw.create_key("metrics-payer")
    fund(gw, "metrics-payer", 10_000_000)
    before = _samples(api(gw, "GET", "/metrics", admin).text)
    headers = {"authorization": f"Bearer {user}"}
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(gw.base_url + "/chat/completions", json=body, headers=headers).is_success
    streamed = httpx.post(
        gw.base_url + "/chat/completions", json={**body, "stream": True}, headers=headers
    )
    assert streamed.is_success
    failed = httpx.post(
        gw.base_url + "/chat/completions",
        json={**body, "model": "fake-500"},
        headers={"authorization": f"Bearer {admin}"},
    )
    assert failed.status_code == 502
    time.sleep(0.3)
    response = api(gw, "GET", "/metrics", admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = _samples(response.text)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    path = "/v1/chat/completions"
    assert grew("cong_http_requests_total", path=path, status="200") == 2
    assert grew("cong_http_requests_total", path=path, status="502") == 1
    assert grew("cong_http_request_duration_seconds_count", path=path) == 3
    assert grew("cong_time_to_first_token_seconds_count", path=path) == 1
    assert grew("cong_tokens_total", model="fake-model", kind="prompt") == 18  # 9 + 9
    assert grew("cong_tokens_total", model="fake-model", kind="completion") == 6  # 3 + 3
    # 18 prompt tokens at 1/1M each and 6 completion tokens at 2/1M each.
    assert abs(grew("cong_cost_total", model="fake-model") - 30 / 1_000_000) < 1e-9
    assert grew("cong_channel_upstream_errors_total", channel="fake-500") >= 1
    assert ("cong_channel_circuit_state", frozenset({("channel", "fake-500")})) in after
    assert ("cong_usage_writer_backlog", frozenset()) in after
