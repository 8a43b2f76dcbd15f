"""Extraction: a stored file → the text a model reads (or an image). It runs in a
worker process, bounded in time (``timeout``) and memory (an address-space limit set in
the worker); a file that cannot be read gives an error naming it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import resource
from dataclasses import dataclass, field

from cong.files.archives import ArchiveLimits, BadArchive, read_members
from cong.files.decoding import NotText, decode_text
from cong.files.kinds import image_type, kind_of
from cong.files.readers import read_docx, read_html, read_json, read_pdf, read_pptx, read_xlsx
from cong.protocol.errors import APIError, invalid_request


@dataclass(frozen=True, slots=True)
class ExtractLimits:
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    max_chars: int = 2_000_000
    timeout: float = 30.0
    memory_bytes: int = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Extracted:
    """``text`` for documents; ``image`` (bytes) and its ``media_type`` for images."""

    name: str
    text: str = ""
    image: bytes | None = None
    media_type: str = ""


def unreadable(name: str, reason: str) -> APIError:
    return invalid_request(
        f"The file {name!r} cannot be read: {reason}", param="file", code="file_unreadable"
    )


def _text_of(name: str, data: bytes, limits: ExtractLimits, depth: int) -> str:
    kind = kind_of(name, data[:16])
    if kind == "pdf":
        return read_pdf(data)
    if kind == "docx":
        return read_docx(data)
    if kind == "pptx":
        return read_pptx(data)
    if kind == "xlsx":
        return read_xlsx(data, limits.max_chars)
    if kind == "html":
        return read_html(data)
    if kind == "json":
        return read_json(data)
    if kind == "image":
        return f"[image {image_type(name, data[:16])}, {len(data)} bytes]"
    if kind == "zip":
        if depth > 0:
            return "[archive inside the archive, not unpacked]"
        sections = []
        for path, content in read_members(data, limits.archive):
            try:
                body = _text_of(path, content, limits, depth + 1)
            except Exception as error:  # one unreadable member does not lose the rest
                body = f"[cannot be read: {error}]"
            sections.append(f"=== {path} ===\n{body}")
        return "\n\n".join(sections)
    return decode_text(data)  # text, Markdown, CSV, YAML, source code


def extract_now(name: str, data: bytes, limits: ExtractLimits) -> Extracted:
    """In this process (the worker calls it). Raises ValueError-like errors."""
    if kind_of(name, data[:16]) == "image":
        return Extracted(name, image=data, media_type=image_type(name, data[:16]))
    text = _text_of(name, data, limits, 0)
    if len(text) > limits.max_chars:
        text = text[: limits.max_chars] + "\n[… truncated]"
    return Extracted(name, text=text)


def _limit_memory(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


class Extractor:
    """A small worker pool (created on first use) that extracts off the event loop; a
    worker past the time limit is killed with its pool. Files wait their turn for a
    free worker first, so the time limit counts only the reading itself and a kill
    never takes another file's work with it."""

    def __init__(self, limits: ExtractLimits, workers: int = 1) -> None:
        self.limits = limits
        self.workers = workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._turns: asyncio.Semaphore | None = None

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_limit_memory,
                initargs=(self.limits.memory_bytes,),
            )
        return self._pool

    async def extract(self, name: str, data: bytes) -> Extracted:
        if self._turns is None:
            self._turns = asyncio.Semaphore(self.workers)
        async with self._turns:
            return await self._extract(name, data)

    async def _extract(self, name: str, data: bytes) -> Extracted:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor(), extract_now, name, data, self.limits)
        try:
            return await asyncio.wait_for(future, self.limits.timeout)
        except TimeoutError:
            self._kill()
            raise unreadable(name, f"reading took longer than {self.limits.timeout:g} s") from None
        except MemoryError:
            self._kill()
            raise unreadable(name, "reading needs more memory than allowed") from None
        except concurrent.futures.process.BrokenProcessPool:
            self._kill()
            raise unreadable(name, "the reader stopped") from None
        except (BadArchive, NotText) as error:
            raise unreadable(name, str(error)) from None
        except Exception as error:
            raise unreadable(name, f"{type(error).__name__}: {str(error)[:200]}") from None

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.kill()

    def close(self) -> None:
        self._kill()
