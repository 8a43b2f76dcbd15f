"""Result files in the web chat (/chat), in Chromium: a user attaches a spreadsheet,
asks for two result files, gets a download button per file and one for the ZIP of both
(labelled in Vietnamese and English), and downloads the ZIP; reopened later, the
conversation still shows the buttons."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.fakes.openai_upstream import Recorder
from tests.files import corpus
from tests.support.gateway import RunningGateway, fresh_database, start_gateway
from tests.support.web import user_with_password
from tests.web.browser.conftest import (
    Watch,
    new_page,
    screenshot,
    sign_in_with_password,
    use_language,
)

PASSWORD = "a-long-password-for-result-files"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MADE = {
    "tong_hop.py": (
        'import csv\n\nrows = csv.DictReader(open("thang.csv"))\n'
        'print(sum(int(r["VND"]) for r in rows))\n'
    ),
    "thang.csv": "Tháng,VND\n1,1500\n2,2500\n",
}


@pytest.fixture(scope="module")
def results_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    """fake-files: offered create_file, it makes the files it is told to."""
    tmp = tmp_path_factory.mktemp("results")
    running, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        upstreams=[
            {
                "name": "fake",
                "base_url": fake_openai[0] + "/v1",
                "api_key": "sk-upstream-secret-value",
                "models": ["fake-files"],
            }
        ],
        model_server={"enabled": False},
        web={"login_attempts_per_account": 1000, "login_attempts_per_ip": 1000},
    )
    try:
        yield running
    finally:
        server.__exit__()


def test_two_result_files_and_their_zip_are_downloaded_from_the_chat(
    results_gateway: RunningGateway, browser: Any, watch: Watch, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = results_gateway, fake_openai[1]
    recorder.files_to_create = list(MADE.items())
    recorder.one_file_per_answer = False
    user_with_password(gw, "lan", PASSWORD)
    page = new_page(browser, gw, watch, locale="vi-VN", accept_downloads=True)
    sign_in_with_password(page, "lan", PASSWORD, next_path="/chat")
    page.get_by_test_id("chat-model").select_option("fake-files")

    book = corpus.xlsx({"Doanh thu": [["Tháng", "VND"], [1, 1500], [2, 2500]]})
    page.get_by_test_id("attach-input").set_input_files(
        [{"name": "doanh thu.xlsx", "mimeType": XLSX, "buffer": book}]
    )
    expect(page.get_by_test_id("attach-chip")).to_have_attribute("data-state", "ready")
    page.get_by_test_id("chat-input").fill("Từ bảng này, tạo một script Python và một tệp CSV")
    page.get_by_test_id("chat-send").click()

    answer = page.get_by_test_id("chat-messages").locator("[data-role=assistant]").last
    files = answer.get_by_test_id("chat-file")
    expect(files).to_have_count(2, timeout=30_000)
    expect(files.nth(0)).to_have_text("⬇ Tải tong_hop.py")
    expect(files.nth(1)).to_have_text("⬇ Tải thang.csv")
    zip_button = answer.get_by_test_id("chat-file-zip")
    expect(zip_button).to_have_text("⬇ Tải tất cả (files.zip)")
    expect(answer).to_contain_text("Saved tong_hop.py")

    # The model read the spreadsheet and was offered the tool; it never showed up here.
    first = next(
        b
        for b in reversed(recorder.requests)
        if "Từ bảng này" in str(b["messages"][-1]) and b["messages"][-1]["role"] == "user"
    )
    assert [t["function"]["name"] for t in first["tools"]] == ["create_file"]
    sheet = first["messages"][-1]["content"][1]["text"]
    assert sheet.startswith('<file name="doanh thu.xlsx">\n--- sheet: Doanh thu ---\nTháng | VND')
    assert "create_file" not in answer.inner_text()

    with page.expect_download() as download:
        zip_button.click()
    assert download.value.suggested_filename == "files.zip"
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert {n: archive.read(n).decode() for n in archive.namelist()} == MADE
    with page.expect_download() as single:
        files.nth(1).click()
    assert Path(single.value.path()).read_text("utf-8") == MADE["thang.csv"]
    screenshot(page, "chat-result-files-vi")

    # Reopened, in English: the buttons are read back from the stored answer.
    conversation = page.get_by_test_id("chat-list").locator("li[data-id]").first
    page.goto(f"/chat?c={conversation.get_attribute('data-id')}")
    use_language(page, "en")
    page.goto(f"/chat?c={conversation.get_attribute('data-id')}")
    answer = page.get_by_test_id("chat-messages").locator("[data-role=assistant]").last
    expect(answer.get_by_test_id("chat-file")).to_have_count(2)
    expect(answer.get_by_test_id("chat-file-zip")).to_have_text("⬇ Download all (files.zip)")
    expect(answer.get_by_test_id("chat-file").nth(0)).to_have_text("⬇ Download tong_hop.py")
    assert watch.dialogs == [] and watch.errors == [] and watch.foreign == []
    page.context.close()
