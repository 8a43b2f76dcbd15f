"""CPU time and resident memory of server processes (each with its children), via psutil."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import psutil

IDLE_PROBE_S = 0.1
IDLE_CPU_FRACTION = 0.05  # a tree using less than 5% of a core is idle
# a run during which other processes kept this many cores busy is flagged as disturbed
DISTURBED_CORES = 0.25


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and all its live descendants (empty if the process is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of every process in the tree, by pid."""
    times: dict[int, float] = {}
    for proc in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            cpu = proc.cpu_times()
            times[proc.pid] = cpu.user + cpu.system
    return times


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory (MB) of the process itself and of all its descendants together."""
    own = children = 0.0
    for proc in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            rss = proc.memory_info().rss / 2**20
            if proc.pid == pid:
                own = rss
            else:
                children += rss
    return own, children


def system_busy_s() -> tuple[float, float]:
    """Machine-wide busy CPU seconds (all cores, all processes) and hypervisor steal."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    return busy, getattr(t, "steal", 0.0)


def _total(times: dict[int, float]) -> float:
    return sum(times.values())


@dataclass
class Usage:
    """What one process tree used during a measured window."""

    cpu_s: float = 0.0  # the window plus the tail until the tree went idle
    window_cpu_s: float = 0.0  # the window only
    peak_rss_mb: float = 0.0
    peak_children_rss_mb: float = 0.0


@dataclass
class ProcessMeter:
    """Measures CPU time between :meth:`start` and :meth:`stop`, and peak RSS meanwhile.

    RSS is sampled every ``interval`` seconds by a background task on the running loop.
    """

    pids: dict[str, int]
    interval: float = 0.25
    _cpu_start: dict[str, dict[int, float]] = field(default_factory=dict)
    _usage: dict[str, Usage] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _system_start: tuple[float, float] = (0.0, 0.0)
    machine_busy_s: float = 0.0
    steal_s: float = 0.0

    def start(self) -> None:
        self._usage = {name: Usage() for name in self.pids}
        self._sample_rss()
        self._cpu_start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._system_start = system_busy_s()
        if self.pids:
            self._task = asyncio.get_running_loop().create_task(self._sampler())

    async def stop(self, settle_s: float = 2.0) -> dict[str, Usage]:
        """End the window once the servers are idle again (work deferred past the last
        response, e.g. batched usage logging, counts) or after ``settle_s`` seconds."""
        busy, steal = system_busy_s()
        self.machine_busy_s = busy - self._system_start[0]
        self.steal_s = steal - self._system_start[1]
        window_end = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        for name, times in window_end.items():
            self._usage[name].window_cpu_s = self._cpu_delta(name, times)
        end = await self._settle(window_end, settle_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample_rss()
        for name, times in end.items():
            self._usage[name].cpu_s = self._cpu_delta(name, times)
        return self._usage

    def _cpu_delta(self, name: str, times: dict[int, float]) -> float:
        start = self._cpu_start.get(name, {})
        return sum(t - start.get(pid, 0.0) for pid, t in times.items())

    async def _settle(
        self, end: dict[str, dict[int, float]], settle_s: float
    ) -> dict[str, dict[int, float]]:
        deadline = time.monotonic() + settle_s
        while self.pids and time.monotonic() < deadline:
            await asyncio.sleep(IDLE_PROBE_S)
            now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
            busy = max(_total(now[n]) - _total(end[n]) for n in self.pids)
            end = now
            if busy < IDLE_CPU_FRACTION * IDLE_PROBE_S:
                break
        return end

    def _sample_rss(self) -> None:
        for name, pid in self.pids.items():
            own, children = rss_mb(pid)
            usage = self._usage[name]
            usage.peak_rss_mb = max(usage.peak_rss_mb, own)
            usage.peak_children_rss_mb = max(usage.peak_children_rss_mb, children)

    async def _sampler(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._sample_rss()
