"""One chat request offered result files (:mod:`.result_offer`), from the first answer
to the last.

Tool mode: when the model calls ``create_file``, the files are stored
(:mod:`.results`), the call and its results are added to the conversation and the model
is asked again (a request of its own, ``<request id>-files<n>``, billed like any
other), at most :data:`MAX_ROUNDS` times (the last one with ``tool_choice: none``). The
client never sees the ``create_file`` calls: it gets the text of every round, then a
line with the download links, and ``cong_files`` (id, filename, bytes, download_url,
kind) on the completion, or on the last chunk of a stream. ``usage`` is the sum of the
rounds. Block mode: one answer, its named code blocks stored.

Whatever happens to the files (quota, a later round failing), the answer is kept."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cong.files.result_offer import CREATE_FILE, Offer
from cong.files.results import ResultFiles
from cong.gateway.service import Result
from cong.protocol.errors import APIError
from cong.protocol.stream import Events, Stream

log = logging.getLogger("cong.files")
MAX_ROUNDS = 4
Serve = Callable[[dict[str, Any], str], Awaitable[Result]]
Call = dict[str, Any]


def add_usage(total: Any, usage: Any) -> Any:
    """Two usage objects summed (numbers added, nested objects too)."""
    if not isinstance(usage, dict):
        return total
    if not isinstance(total, dict):
        return dict(usage)
    out = dict(total)
    for key, value in usage.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and isinstance(out.get(key), int):
            out[key] += value
        elif isinstance(value, dict):
            out[key] = add_usage(out.get(key), value)
        elif key not in out:
            out[key] = value
    return out


class ResultTurn:
    def __init__(self, offer: Offer, saver: ResultFiles, serve: Serve, request_id: str) -> None:
        self.offer = offer
        self.saver = saver
        self.serve = serve
        self.request_id = request_id
        self.messages: list[dict[str, Any]] = list(offer.body["messages"])
        self.rounds = 0

    def _split(self, calls: list[Call]) -> tuple[list[Call], list[Call]]:
        if self.offer.mode != "tool":
            return [], calls
        ours = [c for c in calls if (c.get("function") or {}).get("name") == CREATE_FILE]
        return ours, [c for c in calls if c not in ours]

    async def _next(self, text: str, ours: list[Call]) -> Result | None:
        """Store the files of ``ours`` and ask again (None: no more rounds, or the
        next round failed: the answer ends with what it has)."""
        results = [await self.saver.save_call(call) for call in ours]
        if self.rounds >= MAX_ROUNDS:
            return None
        self.rounds += 1
        calls = [
            {"id": c.get("id") or f"call_{n}", "type": "function", "function": c["function"]}
            for n, c in enumerate(ours)
        ]
        for call, result in zip(calls, results, strict=True):
            result["tool_call_id"] = call["id"]
        self.messages += [{"role": "assistant", "content": text or None, "tool_calls": calls}]
        self.messages += results
        body = {**self.offer.body, "messages": self.messages}
        if self.rounds == MAX_ROUNDS:
            body["tool_choice"] = "none"
        try:
            return await self.serve(body, f"{self.request_id}-files{self.rounds}")
        except APIError as error:
            log.warning("result files: round %d failed (%s)", self.rounds, error.status)
            return None

    async def finish(self, result: Result) -> Result:
        if isinstance(result.payload, dict):
            return Result(await self._answer(result.payload), result.headers)
        return Result(self._stream(result.payload), result.headers)

    # ------------------------------------------------------------ JSON answers

    async def _answer(self, payload: dict[str, Any]) -> dict[str, Any]:
        texts: list[str] = []
        usage: Any = None
        while True:
            usage = add_usage(usage, payload.get("usage"))
            choice = (payload.get("choices") or [{}])[0]
            message = choice.get("message") or {}
            content = message.get("content")
            text = content if isinstance(content, str) else ""
            if text:
                texts.append(text)
            ours, theirs = self._split(message.get("tool_calls") or [])
            if not ours:
                break
            if theirs:  # the client's own calls go back to it; ours are done here
                for call in ours:
                    await self.saver.save_call(call)
                break
            following = await self._next(text, ours)
            if following is None or not isinstance(following.payload, dict):
                choice["finish_reason"] = "stop"
                break
            payload = following.payload
        if self.offer.mode == "blocks":
            await self.saver.save_blocks("\n".join(texts))
        await self.saver.finish()
        note = self.saver.note(with_contents=self.offer.mode == "tool")
        message = dict(message)
        message["content"] = "\n\n".join(texts) + note if texts or note else message.get("content")
        if theirs:
            message["tool_calls"] = theirs
        else:
            message.pop("tool_calls", None)
            if choice.get("finish_reason") == "tool_calls":
                choice["finish_reason"] = "stop"
        choice["message"] = message
        if usage is not None:
            payload["usage"] = usage
        if self.saver.made or self.saver.failed:
            payload["cong_files"] = self.saver.entries()
        return payload

    # ------------------------------------------------------------ streams

    async def _stream(self, current: Stream) -> Stream:
        relay = _Relay(self.offer.mode == "tool")
        try:
            while True:
                async for item in current:
                    chunks = relay.take(item.objects())
                    if chunks:
                        yield Events(chunks=chunks)
                    if item.end:
                        break
                ours, theirs = relay.calls()
                if not ours:
                    break
                if theirs:
                    for call in ours:
                        await self.saver.save_call(call)
                    break
                following = await self._next(relay.round_text(), ours)
                if following is None or isinstance(following.payload, dict):
                    relay.finish = "stop"
                    break
                await current.aclose()
                current = following.payload
                relay.next_round()
            if self.offer.mode == "blocks":
                await self.saver.save_blocks(relay.all_text())
            await self.saver.finish()
            note = self.saver.note(with_contents=self.offer.mode == "tool")
            files = self.saver.entries() if self.saver.made or self.saver.failed else None
            yield Events(chunks=relay.closing(note, files), end=True)
        finally:
            await current.aclose()


class _Relay:
    """Chunks of the rounds as the client sees them: ``create_file`` call deltas taken
    out (and the client's own calls renumbered), the finish and the usage held back for
    the end, the role said once."""

    def __init__(self, tool_mode: bool) -> None:
        self.tool_mode = tool_mode
        self.template: dict[str, Any] = {}
        self.texts: list[list[str]] = [[]]
        self.usage: Any = None
        self.finish: str | None = None
        self.first_round = True
        self._calls: dict[int, Call] = {}
        self._ours: set[int] = set()
        self._their_index: dict[int, int] = {}

    def next_round(self) -> None:
        self.first_round = False
        self.texts.append([])
        self._calls, self._ours, self._their_index = {}, set(), {}

    def round_text(self) -> str:
        return "".join(self.texts[-1])

    def all_text(self) -> str:
        return "".join("".join(texts) for texts in self.texts)

    def calls(self) -> tuple[list[Call], list[Call]]:
        calls = [self._calls[i] for i in sorted(self._calls)]
        ours = [self._calls[i] for i in sorted(self._ours)]
        return ours, [c for c in calls if c not in ours]

    def _tool_deltas(self, deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for delta in deltas:
            index = int(delta.get("index") or 0)
            call = self._calls.setdefault(
                index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            )
            function = delta.get("function") or {}
            if delta.get("id"):
                call["id"] = delta["id"]
            if function.get("name"):
                call["function"]["name"] += function["name"]
                if self.tool_mode and call["function"]["name"] == CREATE_FILE:
                    self._ours.add(index)
            call["function"]["arguments"] += function.get("arguments") or ""
            if index in self._ours:
                continue
            renumbered = self._their_index.setdefault(index, len(self._their_index))
            kept.append({**delta, "index": renumbered})
        return kept

    def take(self, chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for chunk in chunks:
            if not self.template and chunk.get("id"):
                self.template = {k: chunk[k] for k in ("id", "created", "model") if k in chunk}
            if isinstance(chunk.get("usage"), dict):
                self.usage = add_usage(self.usage, chunk["usage"])
                chunk = {**chunk, "usage": None}
            choices = chunk.get("choices") or []
            if not choices:
                continue  # the usage report: the end says the sum
            choice = dict(choices[0])
            delta = dict(choice.get("delta") or {})
            if isinstance(delta.get("content"), str):
                self.texts[-1].append(delta["content"])
            if delta.get("tool_calls"):
                delta["tool_calls"] = self._tool_deltas(delta["tool_calls"])
                if not delta["tool_calls"]:
                    del delta["tool_calls"]
            if not self.first_round:
                delta.pop("role", None)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
                choice["finish_reason"] = None
            if not any(v not in (None, "", []) for v in delta.values()):
                continue
            choice["delta"] = delta
            out.append({**chunk, "choices": [choice, *choices[1:]]})
        return out

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {**self.template, "object": "chat.completion.chunk", "choices": choices}

    def closing(self, note: str, files: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        _, theirs = self.calls()
        finish = self.finish or "stop"
        if finish == "tool_calls" and not theirs:
            finish = "stop"
        out = []
        if note:
            delta = {"content": note}
            out.append(self._chunk([{"index": 0, "delta": delta, "finish_reason": None}]))
        out.append(self._chunk([{"index": 0, "delta": {}, "finish_reason": finish}]))
        if self.usage is not None:
            out.append({**self._chunk([]), "usage": self.usage})
        if files is not None:
            out[-1]["cong_files"] = files
        return out
