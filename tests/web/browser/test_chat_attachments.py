"""Attachments in the web chat (/chat), in Chromium: the picker, drag-and-drop and paste
upload through /api/files with a progress bar, a chip (name, size, type), a preview and a
remove button; the message carries `file` parts, so the fake upstream sees a
spreadsheet's extracted sheets and a pasted image as an image; refusals (too large, quota
full, contents that do not match the type, an image for a text-only model) are shown
next to the chip, in English and Vietnamese, with nothing stored; a phone-sized screen
keeps the composer usable."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.fakes.embedding_upstream import EmbeddingRecorder, create_fake_embeddings
from tests.fakes.openai_upstream import Recorder
from tests.files import corpus
from tests.support.gateway import RunningGateway, auth, fresh_database, start_gateway
from tests.support.servers import ServerThread
from tests.support.web import user_with_password
from tests.web.browser.conftest import Watch, new_page, screenshot, sign_in_with_password

PASSWORD = "a-long-password-for-attachments"
LIMIT = 64 * 1024
QUOTA = 160 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def attach_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    """fake-echo (vision) answers with the body it received; fake-model reads text only.
    Memory embeds with the bag-of-words fake, so conversations are stored."""
    tmp = tmp_path_factory.mktemp("attach")
    with ServerThread(create_fake_embeddings(EmbeddingRecorder())) as embeddings:
        running, server = start_gateway(
            fresh_database("sqlite", tmp, None),
            tmp / "data",
            upstreams=[
                {
                    "name": "fake",
                    "base_url": fake_openai[0] + "/v1",
                    "api_key": "sk-upstream-secret-value",
                    "models": ["fake-echo", "fake-model"],
                    "text_only_models": ["fake-model"],
                },
                {
                    "name": "bow",
                    "base_url": embeddings.url + "/v1",
                    "api_key": "sk-embed-secret",
                    "embedding_models": ["bow-embed"],
                },
            ],
            model_server={"enabled": False},
            memory={"embedding_model": "bow-embed"},
            files={"max_file_bytes": LIMIT, "user_quota_bytes": QUOTA},
            web={"login_attempts_per_account": 1000, "login_attempts_per_ip": 1000},
        )
        try:
            yield running
        finally:
            server.__exit__()


def chat_page(browser: Any, gw: RunningGateway, watch: Watch, name: str, **options: Any) -> Any:
    user_with_password(gw, name, PASSWORD)
    page = new_page(browser, gw, watch, **{"locale": "en-US", **options})
    sign_in_with_password(page, name, PASSWORD, next_path="/chat")
    page.get_by_test_id("chat-input").wait_for()
    return page


def stored_files(gw: RunningGateway, user: str) -> list[dict[str, Any]]:
    listed = httpx.get(gw.base_url + "/files", headers=auth(gw.create_key(user)))
    data: list[dict[str, Any]] = listed.json()["data"]
    return data


def blobs_on_disk(gw: RunningGateway) -> list[str]:
    root = gw.settings.files_dir
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def send(page: Any, text: str) -> None:
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("chat-stop")).to_be_hidden(timeout=30_000)
    expect(page.get_by_test_id("chat-send")).to_be_visible()


def upstream_saw(recorder: Recorder, marker: str) -> dict[str, Any]:
    for body in reversed(recorder.requests):
        if marker in str(body.get("messages")):
            return body
    raise AssertionError(f"no upstream request with {marker!r}")


def test_picker_chip_preview_and_remove(
    attach_gateway: RunningGateway, browser: Any, watch: Watch
) -> None:
    gw = attach_gateway
    page = chat_page(browser, gw, watch, "an")
    hostile = "<img src=x onerror=alert(1)>.txt"
    page.get_by_test_id("attach-input").set_input_files(
        [
            {
                "name": "ghi-chú.txt",
                "mimeType": "text/plain",
                "buffer": "dòng một\ndòng hai\n".encode(),
            },
            {"name": "ảnh.png", "mimeType": "image/png", "buffer": corpus.png(8, 8)},
            {"name": hostile, "mimeType": "text/plain", "buffer": b"<b>not bold</b>"},
        ]
    )
    chips = page.get_by_test_id("attach-chip")
    expect(chips).to_have_count(3)
    for i in range(3):
        expect(chips.nth(i)).to_have_attribute("data-state", "ready")
    text_chip = chips.filter(has_text="ghi-chú.txt")
    expect(text_chip.get_by_test_id("attach-size")).to_have_text("22 B")
    expect(text_chip.get_by_test_id("attach-type")).to_have_text("text/plain")
    expect(text_chip.get_by_test_id("attach-preview")).to_contain_text("dòng một\ndòng hai")
    image_chip = chips.filter(has_text="ảnh.png")
    expect(image_chip.get_by_test_id("attach-type")).to_have_text("image/png")
    thumbnail = image_chip.get_by_test_id("attach-preview").locator("img")
    expect(thumbnail).to_have_attribute("alt", "ảnh.png")
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 8
    assert chips.filter(has_text=hostile).locator("img").count() == 0  # the name is text
    assert page.locator("progress:visible").count() == 0  # all uploaded
    assert sorted(f["filename"] for f in stored_files(gw, "an")) == sorted(
        ["ghi-chú.txt", "ảnh.png", hostile]
    )
    screenshot(page, "chat-attachments-en")

    # removing a chip before sending deletes the uploaded copy too
    for name in ("ảnh.png", hostile):
        chips.filter(has_text=name).get_by_test_id("attach-remove").click()
    expect(chips).to_have_count(1)
    left: list[str] = []
    for _ in range(50):  # the deletes are sent as the chips go
        left = [f["filename"] for f in stored_files(gw, "an")]
        if len(left) == 1:
            break
        page.wait_for_timeout(100)
    assert left == ["ghi-chú.txt"]
    assert watch.dialogs == [] and watch.errors == [] and watch.foreign == []
    page.context.close()


def test_drop_and_send_a_spreadsheet(
    attach_gateway: RunningGateway, browser: Any, watch: Watch, fake_openai: tuple[str, Recorder]
) -> None:
    gw = attach_gateway
    page = chat_page(browser, gw, watch, "binh")
    page.get_by_test_id("chat-model").select_option("fake-echo")
    book = corpus.xlsx({"Doanh thu": [["Tháng", "VND"], [1, 1500], [2, 2500]]})
    data_transfer = page.evaluate_handle(
        """([name, b64, XLSX]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: XLSX }));
            return dt;
        }""",
        ["số liệu.xlsx", base64.b64encode(book).decode(), XLSX],
    )
    zone = page.locator(".chat-main")
    zone.dispatch_event("dragenter", {"dataTransfer": data_transfer})
    expect(zone).to_have_class(re.compile("attach-dragging"))
    zone.dispatch_event("drop", {"dataTransfer": data_transfer})
    expect(zone).not_to_have_class(re.compile("attach-dragging"))
    chip = page.get_by_test_id("attach-chip")
    expect(chip).to_have_attribute("data-state", "ready")
    expect(chip.get_by_test_id("attach-name")).to_have_text("số liệu.xlsx")

    send(page, "Tóm tắt bảng doanh thu")
    body = upstream_saw(fake_openai[1], "Tóm tắt bảng doanh thu")
    parts = body["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "Tóm tắt bảng doanh thu"}
    assert parts[1]["text"].startswith(
        '<file name="số liệu.xlsx">\n--- sheet: Doanh thu ---\nTháng | VND\n1 | 1500\n2 | 2500'
    )
    expect(page.get_by_test_id("attach-chip")).to_have_count(0)  # the tray is cleared
    user = page.get_by_test_id("chat-messages").locator("[data-role=user]")
    expect(user.get_by_test_id("attach-sent")).to_have_text("số liệu.xlsx")

    # the stored conversation keeps the file; opened again, the message still shows it
    conversation = page.get_by_test_id("chat-list").locator("li[data-id]").first
    conversation_id = conversation.get_attribute("data-id")
    page.goto(f"/chat?c={conversation_id}")
    expect(user.get_by_test_id("attach-sent")).to_have_text("số liệu.xlsx")
    expect(user).to_contain_text("Tóm tắt bảng doanh thu")
    assert watch.errors == [] and watch.dialogs == []
    page.context.close()


def test_paste_an_image_and_send_it_to_a_vision_model(
    attach_gateway: RunningGateway, browser: Any, watch: Watch, fake_openai: tuple[str, Recorder]
) -> None:
    gw = attach_gateway
    page = chat_page(browser, gw, watch, "chi")
    page.get_by_test_id("chat-model").select_option("fake-model")  # reads text only
    page.get_by_test_id("chat-input").fill("Ảnh này là gì?")
    pasted = page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "image.png", { type: "image/png" }));
            const init = { clipboardData: dt, bubbles: true, cancelable: true };
            const event = new ClipboardEvent("paste", init);
            return document.getElementById("chat-input").dispatchEvent(event);
        }""",
        base64.b64encode(corpus.png(4, 4)).decode(),
    )
    assert pasted is False  # the page took the paste (the file is not pasted as text)
    chip = page.get_by_test_id("attach-chip")
    expect(chip).to_have_attribute("data-state", "ready")
    expect(chip.locator("img")).to_have_attribute("alt", "image.png")
    expect(page.get_by_test_id("chat-input")).to_have_value("Ảnh này là gì?")
    refusal = chip.get_by_test_id("attach-error")
    expect(refusal).to_have_text(re.compile("does not read images"))
    before = fake_openai[1].chat_count
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("attach-status")).to_contain_text("Remove the attachments")
    assert fake_openai[1].chat_count == before  # nothing was sent
    expect(page.get_by_test_id("chat-input")).to_have_value("Ảnh này là gì?")

    page.get_by_test_id("chat-model").select_option("fake-echo")  # a vision model
    expect(refusal).to_be_hidden()
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("chat-send")).to_be_visible()
    expect(page.get_by_test_id("chat-messages").locator("[data-role=assistant]")).to_have_count(1)
    body = upstream_saw(fake_openai[1], "Ảnh này là gì?")
    image = body["messages"][-1]["content"][1]
    assert image["type"] == "image_url"
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    assert watch.errors == [] and watch.dialogs == []
    page.context.close()


def test_too_large_and_quota_full_are_shown_and_nothing_is_stored(
    attach_gateway: RunningGateway, browser: Any, watch: Watch
) -> None:
    gw = attach_gateway
    page = chat_page(browser, gw, watch, "dung", locale="vi-VN")
    before = blobs_on_disk(gw)
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if r.method == "POST" else None)
    page.get_by_test_id("attach-input").set_input_files(
        {"name": "lớn.bin", "mimeType": "application/octet-stream", "buffer": b"x" * (LIMIT + 1)}
    )
    chip = page.get_by_test_id("attach-chip")
    expect(chip).to_have_attribute("data-state", "error")
    expect(chip.get_by_test_id("attach-error")).to_have_text("Tệp quá lớn: giới hạn là 64.0 KB.")
    assert not [url for url in uploads if url.endswith("/api/files")]  # refused before sending
    chip.get_by_test_id("attach-remove").click()
    expect(chip).to_have_count(0)

    # the server's refusals: contents that do not match the type, then a full quota
    # (answered while the upload is still arriving)
    page.get_by_test_id("attach-input").set_input_files(
        {"name": "báo-cáo.pdf", "mimeType": "application/pdf", "buffer": b"not a pdf at all"}
    )
    expect(chip).to_have_attribute("data-state", "error")
    expect(chip.get_by_test_id("attach-error")).to_have_text(
        "Không đọc được tệp này: nội dung không khớp với loại tệp."
    )
    chip.get_by_test_id("attach-remove").click()
    for name, fill in (("một.txt", b"a"), ("hai.txt", b"b")):
        page.get_by_test_id("attach-input").set_input_files(
            {"name": name, "mimeType": "text/plain", "buffer": fill * (LIMIT - 10)}
        )
        expect(chip.filter(has_text=name)).to_have_attribute("data-state", "ready")
    page.get_by_test_id("attach-input").set_input_files(
        {"name": "ba.txt", "mimeType": "text/plain", "buffer": b"c" * (LIMIT - 10)}
    )
    third = chip.filter(has_text="ba.txt")
    expect(third).to_have_attribute("data-state", "error")
    expect(third.get_by_test_id("attach-error")).to_have_text(
        "Kho tệp của bạn đã đầy: hãy xóa bớt tệp trước."
    )
    assert sorted(f["filename"] for f in stored_files(gw, "dung")) == ["hai.txt", "một.txt"]
    assert len(blobs_on_disk(gw)) == len(before) + 2
    screenshot(page, "chat-attachments-errors-vi")
    assert watch.errors == [] and watch.dialogs == []
    page.context.close()


def test_a_phone_screen_keeps_the_composer_usable(
    attach_gateway: RunningGateway, browser: Any, watch: Watch
) -> None:
    gw = attach_gateway
    page = chat_page(browser, gw, watch, "em", viewport={"width": 390, "height": 800})
    # The page fits the screen (the composer is on it), and the model's name is readable.
    assert page.evaluate("document.documentElement.scrollHeight") <= 800
    picker = page.locator(".chat-model select").bounding_box()
    assert picker and picker["width"] >= 200, picker
    page.get_by_test_id("attach-input").set_input_files(
        [
            {
                "name": "một-tên-tệp-rất-dài-" * 4 + ".md",
                "mimeType": "text/markdown",
                "buffer": b"# Hi\n",
            },
            {"name": "ảnh.png", "mimeType": "image/png", "buffer": corpus.png(4, 4)},
        ]
    )
    chips = page.get_by_test_id("attach-chip")
    expect(chips).to_have_count(2)
    expect(chips.first).to_have_attribute("data-state", "ready")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    for node in (chips.first, chips.nth(1), page.get_by_test_id("chat-send")):
        box = node.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    expect(page.get_by_test_id("attach-button")).to_be_visible()
    screenshot(page, "chat-attachments-phone")
    page.context.close()
