"""``GET /``: the start page — the real base URL, live health and a quick start, in
Vietnamese and English. (The full dashboard and web chat build on the same JSON API.)"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cong import __version__
from cong.http.context import services_of

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cổng</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;
color:#1d2430}}
code,pre{{background:#f3f4f6;border-radius:6px}} code{{padding:.1rem .3rem}}
pre{{padding:1rem;overflow:auto}} .ok{{color:#137333}} .bad{{color:#b3261e}}
nav a{{margin-right:1rem}}
</style></head><body>
<h1>Cổng <small>{version}</small></h1>
<p>Health / Tình trạng: <strong id="health">…</strong></p>
<h2>OpenAI-compatible API</h2>
<p>Base URL: <code>{base}/v1</code> — Authorization: <code>Bearer &lt;API key / token cá
nhân&gt;</code></p>
<pre>curl {base}/v1/chat/completions \\
  -H "Authorization: Bearer $CONG_KEY" -H "Content-Type: application/json" \\
  -d '{{"model": "gpt-4o", "messages": [{{"role": "user", "content": "Xin chào"}}]}}'</pre>
<pre>from openai import OpenAI
client = OpenAI(base_url="{base}/v1", api_key="sk-…")
print(client.chat.completions.create(model="gpt-4o",
      messages=[{{"role": "user", "content": "Hello"}}]).choices[0].message.content)</pre>
<nav><a href="/api/docs">API reference / Tài liệu API</a>
<a href="/api/status">Status / Trạng thái</a></nav>
<script>
fetch("/api/health").then(r => r.ok ? r.json() : Promise.reject(r.status))
  .then(() => {{ const e = document.getElementById("health");
                 e.textContent = "ok / hoạt động"; e.className = "ok"; }})
  .catch(() => {{ const e = document.getElementById("health");
                  e.textContent = "down / không phản hồi"; e.className = "bad"; }});
</script>
</body></html>"""


async def start_page(request: Request) -> HTMLResponse:
    base = html.escape(services_of(request).settings.base_url)
    return HTMLResponse(PAGE.format(version=__version__, base=base))


routes = [Route("/", start_page, methods=["GET"])]
