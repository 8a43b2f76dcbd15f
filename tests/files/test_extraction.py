"""Extraction on a generated corpus of real-format files: the model gets the text with
its structure (pages, slides, sheets, tables, paths in archives), whatever the encoding;
hostile archives and unreadable files give an error that names the file."""

from __future__ import annotations

import pytest

from cong.files.archives import ArchiveLimits, BadArchive, check_archive
from cong.files.extraction import ExtractLimits, Extractor, extract_now
from cong.protocol.errors import APIError
from tests.files import corpus

LIMITS = ExtractLimits()
VIETNAMESE = "tên;thành phố\nNguyễn Văn A;Hà Nội\nTrần Thị B;Đà Nẵng\n"


def text(name: str, data: bytes) -> str:
    return extract_now(name, data, LIMITS).text


def test_pdf_pages() -> None:
    out = text("report.pdf", corpus.pdf(["Revenue grew", "Costs fell"]))
    assert "--- page 1 ---\nRevenue grew" in out and "--- page 2 ---\nCosts fell" in out


def test_docx_paragraphs_and_tables() -> None:
    data = corpus.docx(["Hợp đồng thuê nhà", "Điều 1"], [["Bên", "Tên"], ["A", "Lan"]])
    out = text("hop-dong.docx", data)
    assert "Hợp đồng thuê nhà\nĐiều 1" in out
    assert "--- table 1 ---\nBên | Tên\nA | Lan" in out


def test_xlsx_sheets_by_name() -> None:
    data = corpus.xlsx({"Doanh thu": [["Tháng", "VND"], [1, 1500]], "Chi phí": [["Q1", 7]]})
    out = text("so-lieu.xlsx", data)
    assert "--- sheet: Doanh thu ---\nTháng | VND\n1 | 1500" in out
    assert "--- sheet: Chi phí ---\nQ1 | 7" in out


def test_pptx_slides() -> None:
    out = text("deck.pptx", corpus.pptx(["Mở đầu", "Kết luận"]))
    assert "--- slide 1 ---\nMở đầu" in out and "--- slide 2 ---\nKết luận" in out


@pytest.mark.parametrize(
    "encode",
    [corpus.cp1258, lambda t: t.encode("utf-16"), lambda t: t.encode("utf-8-sig")],
    ids=["cp1258", "utf-16", "utf-8-bom"],
)
def test_csv_in_any_encoding(encode: object) -> None:
    assert callable(encode)
    assert text("khach-hang.csv", encode(VIETNAMESE)) == VIETNAMESE


def test_html_json_and_source() -> None:
    html = b"<html><style>p{}</style><h1>Title</h1><p>Body &amp; more</p><script>x()</script>"
    assert text("page.html", html) == "Title\nBody & more"
    assert text("data.json", b'{"a": [1, 2]}') == '{"a": [1, 2]}'
    assert text("main.py", "print('xin chào')\n".encode()) == "print('xin chào')\n"


def test_image_is_an_image() -> None:
    got = extract_now("chart.png", corpus.png(), LIMITS)
    assert got.image == corpus.png() and got.media_type == "image/png" and got.text == ""


def test_zip_shows_paths_and_reads_members() -> None:
    data = corpus.zip_of(
        {
            "docs/a.txt": "Tài liệu A".encode(),
            "sheets/b.xlsx": corpus.xlsx({"S": [["x", 1]]}),
            "img/c.png": corpus.png(),
        }
    )
    out = text("bundle.zip", data)
    assert "=== docs/a.txt ===\nTài liệu A" in out
    assert "=== sheets/b.xlsx ===\n--- sheet: S ---\nx | 1" in out
    assert "=== img/c.png ===\n[image image/png" in out


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/etc/passwd", "a/../../b.txt", "C:/x.txt", "..\\win.txt"]
)
def test_zip_path_traversal_is_refused(name: str) -> None:
    with pytest.raises(BadArchive, match="unsafe path"):
        check_archive(corpus.zip_of({"ok.txt": b"ok", name: b"x"}), ArchiveLimits())


def test_zip_limits_count_size_and_ratio() -> None:
    with pytest.raises(BadArchive, match="times larger"):
        check_archive(corpus.zip_bomb(), ArchiveLimits())
    with pytest.raises(BadArchive, match="entries"):
        check_archive(corpus.zip_of({f"{i}.txt": b"x" for i in range(5)}), ArchiveLimits(4))
    with pytest.raises(BadArchive, match="unpacks to"):
        check_archive(corpus.zip_of({"a.txt": b"ab" * 600}), ArchiveLimits(max_bytes=1000))


async def test_worker_process_reads_and_names_unreadable_files() -> None:
    extractor = Extractor(ExtractLimits(timeout=60))
    try:
        got = await extractor.extract("report.pdf", corpus.pdf(["Hello"]))
        assert "Hello" in got.text
        with pytest.raises(APIError) as bomb:
            await extractor.extract("bomb.zip", corpus.zip_bomb())
        assert bomb.value.status == 400 and bomb.value.code == "file_unreadable"
        assert "'bomb.zip'" in bomb.value.message and "times larger" in bomb.value.message
        with pytest.raises(APIError) as broken:
            await extractor.extract("broken.xlsx", b"PK\x03\x04 not really")
        assert "'broken.xlsx' cannot be read" in broken.value.message
    finally:
        extractor.close()


async def test_a_reader_past_its_time_is_stopped_and_the_next_file_is_read() -> None:
    extractor = Extractor(ExtractLimits(timeout=0.01))  # less than a worker takes to start
    try:
        with pytest.raises(APIError) as slow:
            await extractor.extract("slow.pdf", corpus.pdf(["Hello"]))
        assert slow.value.code == "file_unreadable"
        assert slow.value.message == (
            "The file 'slow.pdf' cannot be read: reading took longer than 0.01 s"
        )
        extractor.limits = ExtractLimits(timeout=60)
        assert "Hello" in (await extractor.extract("next.pdf", corpus.pdf(["Hello"]))).text
    finally:
        extractor.close()
