"""Write usage records straight through the gateway's own usage writer (log rows and
daily roll-ups), with chosen times: history for the charts and exports."""

from __future__ import annotations

from datetime import datetime

from cong.billing.usage_log import UsageRecord, UsageWriter
from cong.storage.database import Database
from tests.support.gateway import RunningGateway, run_async


def record(
    when: datetime, user_id: int, key_id: str, model: str, *, cost: int = 0, n: int = 0
) -> UsageRecord:
    return UsageRecord(
        request_id=f"hist-{key_id}-{model}-{when.timestamp()}-{n}",
        created_at=when,
        user_id=user_id,
        key_id=key_id,
        group="default",
        endpoint="chat",
        requested_model=model,
        served_model=model,
        channel="fake",
        prompt_tokens=10,
        cached_tokens=0,
        completion_tokens=5,
        reasoning_tokens=0,
        cost=cost,
        latency_ms=12,
        ttft_ms=None,
        status=200,
        stream=False,
        end_reason="completed",
        estimated=False,
    )


def write_usage(gw: RunningGateway, records: list[UsageRecord]) -> None:
    async def write() -> None:
        db = Database(gw.settings.effective_database_url)
        writer = UsageWriter(db)
        try:
            for r in records:
                writer.add(r)
            await writer.flush()
        finally:
            await db.close()

    run_async(write)
