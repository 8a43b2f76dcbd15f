"""The web app's text: every key the scripts use is in both catalogs (Vietnamese and
English), and the pages load nothing from outside the gateway."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.support.gateway import RunningGateway

STATIC = Path(__file__).resolve().parents[2] / "src" / "cong" / "http" / "static"
SCRIPTS = sorted((STATIC / "js").rglob("*.js"))
LITERAL_KEY = re.compile(r"""\b(?:t|section)\(\s*"([a-z0-9_.-]+)"|\bkey: "([a-z_]+\.[a-z_.]+)\"""")


def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((STATIC / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def test_both_catalogs_have_the_same_keys_and_no_empty_text() -> None:
    vi, en = catalog("vi"), catalog("en")
    assert set(vi) == set(en)
    assert all(text.strip() for text in [*vi.values(), *en.values()])
    # translated, not copied: most Vietnamese strings differ from the English ones
    same = [k for k in en if en[k] == vi[k]]
    assert len(same) < len(en) * 0.15, same


def test_every_key_the_scripts_use_is_translated() -> None:
    known = set(catalog("en"))
    used = set()
    for script in SCRIPTS:
        for match in LITERAL_KEY.finditer(script.read_text("utf-8")):
            used.add(match.group(1) or match.group(2))
    assert len(used) > 150
    assert sorted(used - known) == []


def test_pages_load_nothing_from_outside(sqlite_gateway: RunningGateway) -> None:
    page = httpx.get(sqlite_gateway.url + "/")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/static/") for s in sources)
    for source in sources:
        assert httpx.get(sqlite_gateway.url + source).status_code == 200
    for path in [*SCRIPTS, *(STATIC / "css").glob("*.css")]:
        text = path.read_text("utf-8")
        assert not re.search(r"""(?:import|from)\s*\(?\s*["']https?:""", text), path
        assert "url(http" not in text, path
    vendor = httpx.get(sqlite_gateway.url + "/static/vendor/dompurify/purify.es.js")
    assert vendor.status_code == 200
    assert vendor.headers["content-type"].startswith("text/javascript")
