"""Markdown for the benchmark results: one table per section, then the targets."""

from __future__ import annotations

from dataclasses import dataclass, field

from api_section import ApiCell
from embedded_section import EmbeddedRow
from memory_section import MemoryResult

NA = "–"


def num(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return NA if value is None else f"{value:,.{digits}f}{suffix}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Report:
    context: list[str]
    api: list[ApiCell] | None = None
    embedded: list[EmbeddedRow] | None = None
    memory: MemoryResult | None = None
    failures: dict[str, str] = field(default_factory=dict)

    def markdown(self) -> str:
        parts = ["# Cổng benchmark results", "", *(f"- {line}" for line in self.context)]
        for name, text in self.failures.items():
            parts += ["", f"**{name} failed:**", "", "```", text.strip()[-3000:], "```"]
        if self.api:
            parts += ["", "## 1. API overhead", "", api_summary(self.api)]
            parts += ["", "Per target:", "", api_detail(self.api)]
        if self.embedded:
            parts += ["", "## 2. Embedded chat tokens/s", "", embedded_table(self.embedded)]
        if self.memory:
            parts += ["", "## 3. Memory (RSS)", "", memory_table(self.memory)]
        parts += ["", "## Targets", "", targets_table(self)]
        return "\n".join(parts) + "\n"


def api_summary(cells: list[ApiCell]) -> str:
    rows = []
    for cell in cells:
        r = cell.results
        bare, gw = r.get("bare"), r.get("gateway")
        rows.append(
            [
                cell.mode.name,
                str(cell.concurrency),
                num(r["direct"].rps, 0) if "direct" in r else NA,
                num(bare.rps, 0) if bare else NA,
                num(gw.rps, 0) if gw else NA,
                num(cell.rps_ratio(), 2),
                num(cell.added_p50_ms("bare"), 2),
                num(cell.added_p50_ms("gateway"), 2),
                num(bare.cpu_ms_per_req("server"), 3) if bare else NA,
                num(gw.cpu_ms_per_req("server"), 3) if gw else NA,
                num(cell.cpu_ratio(), 2),
                f"{bare.errors if bare else NA} / {gw.errors if gw else NA}",
            ]
        )
    header = ["mode", "c", "direct rps", "bare rps", "gateway rps", "gw/bare rps"]
    header += ["bare +p50 ms", "gateway +p50 ms", "bare CPU ms/req", "gateway CPU ms/req"]
    header += ["gw/bare CPU", "errors bare / gw"]
    return table(header, rows)


def api_detail(cells: list[ApiCell]) -> str:
    rows = []
    for cell in cells:
        for name, res in cell.results.items():
            rows.append(
                [
                    cell.mode.name,
                    str(cell.concurrency),
                    name,
                    f"{res.ok}/{res.requests}",
                    num(res.rps, 0),
                    num(res.p50_ms, 2),
                    num(res.p90_ms, 2),
                    num(res.p99_ms, 2),
                    num(res.ttfb_p50_ms, 2) if res.stream else NA,
                    num(res.events_per_ok, 1) if res.stream else NA,
                    num(res.cpu_ms_per_req("server"), 3) if name != "direct" else NA,
                    num(res.cpu_ms_per_req("upstream"), 3),
                    f"{res.gen_cpu_ms_per_req:.3f} ({res.gen_cpu_util:.0%})",
                    f"{res.other_cores:.2f}",
                    ", ".join(f"{k}={v}" for k, v in res.error_kinds.items()) or "0",
                ]
            )
    header = ["mode", "c", "target", "ok", "rps", "p50 ms", "p90 ms", "p99 ms"]
    header += ["TTFB p50 ms", "events/resp", "server CPU ms/req", "upstream CPU ms/req"]
    header += ["load-gen CPU ms/req (core %)", "other CPU (cores)", "errors"]
    return table(header, rows)


def embedded_table(rows: list[EmbeddedRow]) -> str:
    body = [
        [
            str(row.concurrency),
            num(row.direct.tps),
            num(row.gateway_tps),
            num(row.ratio, 2),
            f"{row.direct.tokens} / {row.gateway.completion_tokens}",
            num(row.gateway.p50_ms / 1000, 2),
            f"{row.direct.other_cores:.2f} / {row.gateway.other_cores:.2f}",
            str(row.gateway.errors),
        ]
        for row in rows
    ]
    header = ["c", "direct tokens/s", "gateway tokens/s", "gw/direct", "tokens direct / gw"]
    header += ["gateway p50 s/request", "other CPU direct / gw (cores)", "errors"]
    return table(header, body)


def memory_table(memory: MemoryResult) -> str:
    rows = [[r.state, num(r.gateway_mb), num(r.children_mb)] for r in memory.rows]
    text = table(["state", "gateway MB", "model server (children) MB"], rows)
    if memory.children:
        text += "\n\nChildren: " + "; ".join(f"`{c}`" for c in memory.children)
    return text


def _status(ok: bool | None, disturbed: bool = False) -> str:
    status = NA if ok is None else ("PASS" if ok else "FAIL")
    return f"{status} (disturbed run: rerun)" if disturbed and ok is not None else status


def targets_table(report: Report) -> str:
    rows: list[list[str]] = []
    cells = report.api or []
    for cell in cells:
        gw = cell.results.get("gateway")
        name = cell.mode.name
        if cell.concurrency == 1:
            added = cell.added_p50_ms("gateway")
            ok = None if added is None else added <= 1.0
            status = _status(ok, cell.disturbed)
            what = "added TTFB p50" if cell.mode.added_by_ttfb else "added p50"
            rows.append([f"c=1 {name} {what}", num(added, 2, " ms"), "≤ 1 ms", status])
        if cell.concurrency == 64:
            ratio = cell.rps_ratio()
            errors = gw.errors if gw else None
            ok = None if ratio is None else ratio >= 0.5 and errors == 0
            measured = f"{num(ratio, 2)} of bare, {errors if gw else NA} errors"
            status = _status(ok, cell.disturbed)
            rows.append([f"c=64 {name} rps", measured, "≥ 0.50, 0 errors", status])
    for mode in dict.fromkeys(cell.mode for cell in cells):
        ratios = [(c.cpu_ratio() or 0.0, c) for c in cells if c.mode == mode]
        ratios = [pair for pair in ratios if pair[0]]
        if ratios:
            worst, cell = max(ratios, key=lambda pair: pair[0])
            measured = f"{worst:.2f}× (worst, c={cell.concurrency})"
            rows.append([f"CPU/request {mode.name} vs bare", measured, "≤ 2×"])
            rows[-1].append(_status(worst <= 2.0, cell.disturbed))
    for row in report.embedded or []:
        ok = None if row.ratio is None else row.ratio >= 0.9 and row.gateway.errors == 0
        rows.append(
            [f"embedded c={row.concurrency} tokens/s", num(row.ratio, 2), "≥ 0.90 of direct"]
        )
        rows[-1].append(_status(ok, row.disturbed))
    if not rows:
        return "No target could be measured."
    return table(["target", "measured", "goal", "status"], rows)
