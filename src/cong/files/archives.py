"""ZIP archives, read defensively: every member name is checked (no absolute paths, no
``..``, no drive letters), and the member count, total unpacked size and compression
ratio are bounded before anything is unpacked; reading is bounded again as it goes
(a member's declared size may lie)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_members: int = 1000
    max_bytes: int = 200 * 1024 * 1024  # unpacked, all members together
    max_ratio: int = 100  # unpacked / packed, per member and overall


class BadArchive(ValueError):
    """The archive is refused; the message says why (and names the member)."""


def _safe_name(name: str) -> bool:
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return False
    path = PurePosixPath(name)
    return ".." not in path.parts and not (len(name) > 1 and name[1] == ":")


def check_archive(source: bytes | str | IO[bytes], limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The archive's file members, or BadArchive (``source``: the bytes, a path or an open
    file, which is left open)."""
    try:
        handle = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise BadArchive(f"not a readable ZIP archive ({error})") from None
    with handle:
        members = handle.infolist()
    if len(members) > limits.max_members:
        raise BadArchive(f"{len(members)} entries; the limit is {limits.max_members}")
    total = packed = 0
    for member in members:
        if not _safe_name(member.filename):
            raise BadArchive(f"unsafe path {member.filename[:200]!r}")
        if member.flag_bits & 0x1:
            raise BadArchive(f"{member.filename!r} is encrypted")
        total += member.file_size
        packed += member.compress_size
        if member.file_size > limits.max_ratio * max(member.compress_size, 1024):
            raise BadArchive(
                f"{member.filename!r} unpacks {member.file_size // max(member.compress_size, 1)}"
                f" times larger than it is packed; the limit is {limits.max_ratio}"
            )
    if total > limits.max_bytes:
        raise BadArchive(f"unpacks to {total} bytes; the limit is {limits.max_bytes}")
    return [m for m in members if not m.is_dir()]


def read_members(data: bytes, limits: ArchiveLimits) -> list[tuple[str, bytes]]:
    """(path, bytes) of each file member, read within the limits."""
    members = check_archive(data, limits)
    budget = limits.max_bytes
    out: list[tuple[str, bytes]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as handle:
        for member in members:
            with handle.open(member) as stream:
                content = stream.read(min(member.file_size, budget) + 1)
            if len(content) > member.file_size or len(content) > budget:
                raise BadArchive(f"{member.filename!r} is larger than it claims")
            budget -= len(content)
            out.append((member.filename, content))
    return out
