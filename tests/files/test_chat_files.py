"""Chat with files: ``file`` parts (a stored ``file_id`` or inline ``file_data``) reach
the upstream as the extracted text, named and structured, or as an image for vision
models; text-only models refuse images naming the file; another user's file is 404."""

from __future__ import annotations

import base64

import httpx
import openai
import orjson

from tests.fakes.openai_upstream import Recorder
from tests.files import corpus
from tests.support.gateway import RunningGateway, auth


def chat(
    gw: RunningGateway, model: str, parts: list[object], key: str | None = None
) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/chat/completions",
        headers=auth(key or gw.admin_token),
        json={"model": model, "messages": [{"role": "user", "content": parts}]},
        timeout=120,
    )


def inline(name: str, data: bytes, media: str = "application/octet-stream") -> dict[str, object]:
    encoded = base64.b64encode(data).decode()
    return {
        "type": "file",
        "file": {"filename": name, "file_data": f"data:{media};base64,{encoded}"},
    }


def test_a_stored_spreadsheet_reaches_the_model_as_named_sheets(gateway: RunningGateway) -> None:
    sdk = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.admin_token, max_retries=0)
    book = corpus.xlsx({"Doanh thu": [["Tháng", "VND"], [1, 1500]], "Chi phí": [["Q1", 7]]})
    stored = sdk.files.create(file=("số liệu.xlsx", book), purpose="user_data")
    reply = sdk.chat.completions.create(
        model="fake-echo",  # answers with the body the upstream received
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Tóm tắt bảng này"},
                    {"type": "file", "file": {"file_id": stored.id}},
                ],
            }
        ],
    )
    seen = orjson.loads(reply.choices[0].message.content or "")
    parts = seen["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "Tóm tắt bảng này"}  # nothing else lost
    assert parts[1]["type"] == "text"
    text = parts[1]["text"]
    assert text.startswith('<file name="số liệu.xlsx">\n--- sheet: Doanh thu ---\nTháng | VND')
    assert "--- sheet: Chi phí ---\nQ1 | 7" in text and text.endswith("</file>")


def test_inline_pdf_and_zip_are_read_with_pages_and_paths(
    sqlite_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    bundle = corpus.zip_of({"src/main.py": b"print(1)\n", "notes/readme.md": "# Ghi chú".encode()})
    response = chat(
        sqlite_gateway,
        "fake-model",
        [
            inline("report.pdf", corpus.pdf(["Revenue grew", "Costs fell"]), "application/pdf"),
            inline("bundle.zip", bundle, "application/zip"),
        ],
    )
    assert response.status_code == 200, response.text
    first, second = fake_openai[1].requests[-1]["messages"][0]["content"]
    assert "--- page 2 ---\nCosts fell" in first["text"]
    assert "=== src/main.py ===\nprint(1)" in second["text"]
    assert "=== notes/readme.md ===\n# Ghi chú" in second["text"]


def test_images_go_to_vision_models_and_text_only_models_name_the_file(
    sqlite_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    image = inline("biểu đồ.png", corpus.png(), "image/png")
    assert chat(sqlite_gateway, "fake-model", [image]).status_code == 200
    (part,) = fake_openai[1].requests[-1]["messages"][0]["content"]
    assert part["type"] == "image_url"
    assert (
        part["image_url"]["url"]
        == "data:image/png;base64," + base64.b64encode(corpus.png()).decode()
    )
    sent = fake_openai[1].chat_count
    refused = chat(sqlite_gateway, "fake-echo", [{"type": "text", "text": "xem"}, image])
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "image_input_not_supported" and "'biểu đồ.png'" in error["message"]
    assert fake_openai[1].chat_count == sent


def test_another_users_file_id_in_a_chat_is_404(
    sqlite_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw = sqlite_gateway
    owner = gw.create_key("chat-owner")
    other = gw.create_key("chat-other")
    uploaded = httpx.post(
        gw.base_url + "/files",
        headers=auth(owner),
        files={"file": ("private.txt", b"owner's secret")},
        data={"purpose": "user_data"},
    ).json()
    sent = fake_openai[1].chat_count
    part = {"type": "file", "file": {"file_id": uploaded["id"]}}
    response = chat(gw, "fake-model", [part], key=other)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"No such File object: {uploaded['id']}"
    assert fake_openai[1].chat_count == sent
    assert chat(gw, "fake-model", [part], key=owner).status_code == 200
    assert "owner's secret" in fake_openai[1].requests[-1]["messages"][0]["content"][0]["text"]


def test_an_unreadable_file_is_a_400_naming_it(
    sqlite_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    sent = fake_openai[1].chat_count
    response = chat(sqlite_gateway, "fake-model", [inline("sổ sách.xlsx", b"PK\x03\x04broken")])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "file_unreadable"
    assert error["message"].startswith("The file 'sổ sách.xlsx' cannot be read")
    assert fake_openai[1].chat_count == sent


def test_responses_input_file_parts_are_read_like_chat_file_parts(
    sqlite_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw = sqlite_gateway
    sdk = openai.OpenAI(base_url=gw.base_url, api_key=gw.admin_token, max_retries=0)
    book = corpus.xlsx({"Doanh thu": [["Tháng", "VND"], [1, 1500]]})
    stored = sdk.files.create(file=("số liệu.xlsx", book), purpose="user_data")
    notes = base64.b64encode("# Ghi chú\nhọp lúc 9 giờ".encode()).decode()
    response = sdk.responses.create(
        model="fake-model",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Tóm tắt"},
                    {"type": "input_file", "file_id": stored.id},
                    {"type": "input_file", "filename": "notes.md", "file_data": notes},
                ],
            }
        ],
    )
    assert response.output_text == "Hello from fake"
    text, sheet, markdown = fake_openai[1].requests[-1]["messages"][0]["content"]
    assert text == {"type": "text", "text": "Tóm tắt"}
    assert sheet["text"].startswith('<file name="số liệu.xlsx">\n--- sheet: Doanh thu ---')
    assert markdown["text"] == '<file name="notes.md">\n# Ghi chú\nhọp lúc 9 giờ\n</file>'

    other = gw.create_key("responses-other")
    refused = httpx.post(
        gw.base_url + "/responses",
        headers=auth(other),
        json={
            "model": "fake-model",
            "input": [{"role": "user", "content": [{"type": "input_file", "file_id": stored.id}]}],
        },
    )
    assert refused.status_code == 404
    assert refused.json()["error"]["message"] == f"No such File object: {stored.id}"
    by_url = httpx.post(
        gw.base_url + "/responses",
        headers=auth(gw.admin_token),
        json={
            "model": "fake-model",
            "input": [
                {
                    "role": "user",
                    "content": [{"type": "input_file", "file_url": "https://x.example/a.pdf"}],
                }
            ],
        },
    )
    assert by_url.status_code == 400 and "file_url" in by_url.json()["error"]["message"]


def test_a_conversation_goes_on_after_its_file_is_deleted(
    sqlite_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    """A stored turn names a file deleted since: the continuation is answered, the model
    is told the file is gone (the request's own file parts still 404 when missing)."""
    gw = sqlite_gateway
    key = gw.create_key("forgetful")  # memory mode history: turns are stored
    sdk = openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0)
    stored = sdk.files.create(file=("ghi chú.txt", "Mã kho: 4471".encode()), purpose="user_data")
    read = sdk.chat.completions.with_raw_response.create(
        model="fake-model",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "fd1 đọc tệp"},
                    {"type": "file", "file": {"file_id": stored.id}},
                ],
            }
        ],
    )
    conversation = read.headers["x-conversation-id"]
    assert "Mã kho: 4471" in str(fake_openai[1].requests[-1]["messages"])
    sdk.files.delete(stored.id)

    again = sdk.chat.completions.with_raw_response.create(
        model="fake-model",
        messages=[{"role": "user", "content": "fd2 còn gì nữa?"}],
        extra_headers={"X-Conversation-Id": conversation},
    )
    assert again.http_response.status_code == 200
    assert again.headers["x-conversation-id"] == conversation
    seen = fake_openai[1].requests[-1]["messages"]
    assert [m["role"] for m in seen] == ["user", "assistant", "user"]
    first_turn = str(seen[0]["content"])
    assert "fd1 đọc tệp" in first_turn and "4471" not in first_turn
    assert f"[{stored.id} was attached here and has since been deleted]" in first_turn

    missing = httpx.post(
        gw.base_url + "/chat/completions",
        headers={**auth(key), "X-Conversation-Id": conversation},
        json={
            "model": "fake-model",
            "messages": [
                {"role": "user", "content": [{"type": "file", "file": {"file_id": stored.id}}]}
            ],
        },
        timeout=30,
    )
    assert missing.status_code == 404 and stored.id in missing.json()["error"]["message"]
