"""The adaptive decode thread count (pure: latencies are simulated)."""

from __future__ import annotations

from cong.modelserver.decode_threads import DecodeThreads, thread_candidates


def _simulate(threads: DecodeThreads, cost: dict[int, float], tokens: int) -> list[int]:
    used = []
    for _ in range(tokens):
        used.append(threads.current)
        threads.observe(cost[threads.current])
    return used


def test_candidates() -> None:
    assert thread_candidates(1) == [1]
    assert thread_candidates(2) == [2, 1]
    assert thread_candidates(8) == [8, 7]


def test_stays_on_every_core_when_that_is_fastest() -> None:
    applied: list[int] = []
    threads = DecodeThreads([2, 1], applied.append)
    used = _simulate(threads, {2: 0.009, 1: 0.014}, 2000)
    assert threads.current == 2
    assert used.count(1) < 40  # only short, rarer and rarer probes
    assert applied[0] == 2


def test_moves_to_fewer_threads_under_contention_and_back() -> None:
    threads = DecodeThreads([2, 1], lambda n: None)
    _simulate(threads, {2: 0.009, 1: 0.014}, 300)
    assert threads.current == 2
    # Another process takes a core: two spinning threads get very slow.
    used = _simulate(threads, {2: 0.25, 1: 0.02}, 400)
    assert threads.current == 1
    assert used[:20].count(2) < 10 and used[-200:].count(2) < 10
    # The core is free again: probes find that two threads are faster.
    _simulate(threads, {2: 0.009, 1: 0.014}, 3000)
    assert threads.current == 2


def test_a_fixed_count_never_changes() -> None:
    applied: list[int] = []
    threads = DecodeThreads([3], applied.append)
    _simulate(threads, {3: 1.0}, 100)
    assert threads.current == 3 and applied == [3]
