"""Long files in a chat: past the whole-file limit, the model gets the file's name, its
structure and only the chunks that matter for the latest user message (hybrid retrieval
over embedded chunks), in document order; a stored file's chunks are made once and
deleted with it."""

from __future__ import annotations

import base64
import random
import re

import httpx
import openai
import pytest
from sqlalchemy import text

from tests.fakes.embedding_upstream import EmbeddingRecorder
from tests.fakes.openai_upstream import Recorder
from tests.files import corpus
from tests.support.gateway import RunningGateway, auth, run_async

VOCABULARY = [
    "river",
    "mountain",
    "garden",
    "window",
    "yellow",
    "market",
    "engine",
    "silver",
    "ocean",
    "forest",
    "lantern",
    "harbor",
    "meadow",
    "pencil",
    "thunder",
    "violet",
    "bridge",
    "candle",
    "desert",
    "falcon",
    "orchard",
    "copper",
    "glacier",
    "tunnel",
    "basket",
    "cotton",
    "island",
    "velvet",
    "marble",
    "ladder",
    "compass",
    "quartz",
    "anchor",
]
NEEDLE = "The vault code is 7341-ZEBRA"
SMALL = {"whole_max_tokens": 1000, "chunk_tokens": 120, "retrieved_tokens": 400}


def filler(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(words)).capitalize() + "."


def long_pdf(pages: int = 120, needle_page: int = 97) -> bytes:
    rng = random.Random(7)
    texts = [filler(rng, 40) for _ in range(pages)]
    texts[needle_page - 1] = f"{filler(rng, 12)} {NEEDLE}. {filler(rng, 12)}"
    return corpus.pdf(texts)


def the_file_part(recorder: Recorder) -> str:
    parts = recorder.requests[-1]["messages"][-1]["content"]
    (found,) = [p["text"] for p in parts if p["type"] == "text" and p["text"].startswith("<file")]
    return str(found)


def ask(gw: RunningGateway, file_part: dict[str, object], question: str) -> httpx.Response:
    message = {"role": "user", "content": [{"type": "text", "text": question}, file_part]}
    return httpx.post(
        gw.base_url + "/chat/completions",
        headers=auth(gw.admin_token),
        json={"model": "fake-model", "messages": [message]},
        timeout=120,
    )


def chunk_rows(gw: RunningGateway, file_id: str) -> int:
    from cong.storage.database import Database

    async def count() -> int:
        db = Database(gw.settings.effective_database_url)
        try:
            async with db.session() as session:
                query = text("SELECT count(*) FROM file_chunks WHERE file_id = :id")
                return int((await session.execute(query, {"id": file_id})).scalar_one())
        finally:
            await db.close()

    return run_async(count)


@pytest.mark.files_settings(**SMALL)
def test_the_answer_deep_inside_a_long_pdf_reaches_the_model_without_the_rest(
    files_gateway: RunningGateway,
    fake_openai: tuple[str, Recorder],
    fake_embeddings: tuple[str, EmbeddingRecorder],
) -> None:
    gw, recorder = files_gateway, fake_openai[1]
    sdk = openai.OpenAI(base_url=gw.base_url, api_key=gw.admin_token, max_retries=0)
    document = long_pdf()
    stored = sdk.files.create(file=("vault-report.pdf", document), purpose="user_data")
    reference = {"type": "file", "file": {"file_id": stored.id}}

    embedded_before = len(fake_embeddings[1].inputs)
    assert ask(gw, reference, "What is the vault code?").status_code == 200
    seen = the_file_part(recorder)
    assert seen.startswith('<file name="vault-report.pdf">') and seen.endswith("</file>")
    assert "Structure: pages 1–120" in seen
    assert "--- page 97 ---\n" in seen and NEEDLE in seen
    assert len(re.findall(r"^--- page \d+ ---$", seen, re.M)) <= 5  # not the whole file
    whole = sum(len(word) + 1 for word in seen.split())
    assert whole < 0.2 * 120 * 40 * 7
    pages = [int(n) for n in re.findall(r"^--- page (\d+) ---$", seen, re.M)]
    assert pages == sorted(pages)  # in document order
    chunks = chunk_rows(gw, stored.id)
    assert chunks >= 100
    assert len(fake_embeddings[1].inputs) - embedded_before == chunks + 1  # chunks, question

    # The second question uses the kept chunks: only the question is embedded.
    embedded_before = len(fake_embeddings[1].inputs)
    assert ask(gw, reference, "Which page has the vault code?").status_code == 200
    assert NEEDLE in the_file_part(recorder)
    assert len(fake_embeddings[1].inputs) - embedded_before == 1

    sdk.files.delete(stored.id)
    assert chunk_rows(gw, stored.id) == 0
    assert ask(gw, reference, "What is the vault code?").status_code == 404


@pytest.mark.files_settings(**SMALL)
def test_a_long_inline_spreadsheet_keeps_its_sheet_and_column_names(
    files_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    rng = random.Random(11)
    rows: list[list[object]] = [["Mục", "Giá trị"]]
    rows += [[filler(rng, 3), rng.randint(1, 10_000)] for _ in range(900)]
    rows[700] = ["mã két sắt", "7341-ZEBRA"]
    book = corpus.xlsx({"Tổng quan": [["Báo cáo kho"]], "Kho": rows})
    encoded = base64.b64encode(book).decode()
    part = {"type": "file", "file": {"filename": "kho.xlsx", "file_data": encoded}}

    assert ask(files_gateway, part, "Mã két sắt là gì?").status_code == 200
    seen = the_file_part(fake_openai[1])
    assert seen.startswith('<file name="kho.xlsx">')
    assert "Structure: sheets 'Tổng quan', 'Kho'" in seen
    # The chunk with the answer, under its sheet and with the sheet's column names.
    assert re.search(r"--- sheet: Kho ---\nMục \| Giá trị\n(.*\n)*mã két sắt \| 7341-ZEBRA", seen)
    assert seen.count("\n") < 120  # a few chunks of a 900-row sheet


def test_a_small_file_still_goes_in_whole(
    files_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    data = "\n".join(f"dòng {n}" for n in range(200)).encode()
    part = {
        "type": "file",
        "file": {"filename": "ghi chú.txt", "file_data": base64.b64encode(data).decode()},
    }
    assert ask(files_gateway, part, "Tóm tắt").status_code == 200
    assert the_file_part(fake_openai[1]) == f'<file name="ghi chú.txt">\n{data.decode()}\n</file>'
