"""Which language a page starts in: the ``cong_lang`` cookie (set by the switch in the
header), else the browser's ``Accept-Language``; Vietnamese or English."""

from __future__ import annotations

from starlette.requests import Request

LANGUAGES = ("vi", "en")
COOKIE = "cong_lang"


def page_language(request: Request) -> str:
    chosen = request.cookies.get(COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return accept_language(request.headers.get("accept-language", ""))


def accept_language(header: str) -> str:
    """The first of our languages in the header's order of preference (default English)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGUAGES and quality > 0:
            ranked.append((-quality, index, base))
    return min(ranked)[2] if ranked else "en"
