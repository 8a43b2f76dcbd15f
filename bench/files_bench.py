"""Extraction time and peak memory for a large PDF and a large XLSX (docs/files.md).

Each file is read by ``cong.files.extraction.extract_now`` in a fresh child process (as
the gateway's worker does); the baseline, in the same run, is a fresh child that only
reads the same bytes and hashes them. Reported: wall time, the child's peak RSS, and the
ratio to the baseline.

    .venv/bin/python bench/files_bench.py            # 20 MB PDF, 50,000-row XLSX
    .venv/bin/python bench/files_bench.py --quick    # 2 MB, 5,000 rows
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

LINE = "Doanh thu quý {n}: 1.234.567 VND, chi phí 234.567 VND, lợi nhuận 1.000.000 VND"


def make_pdf(target_bytes: int) -> bytes:
    lines = [LINE.format(n=i).encode("latin-1", "replace") for i in range(40)]
    body = b" T* ".join(b"(" + line + b") Tj" for line in lines)
    stream = b"BT /F1 9 Tf 12 TL 36 760 Td " + body + b" ET"
    page_size = len(stream) + 200
    pages = max(1, target_bytes // page_size)
    out = bytearray(b"%PDF-1.4\n")
    offsets: list[int] = []

    def add(obj: bytes) -> None:
        offsets.append(len(out))
        out.extend(b"%d 0 obj\n" % len(offsets) + obj + b"\nendobj\n")

    font = 3 + 2 * pages
    kids = b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(pages))
    add(b"<< /Type /Catalog /Pages 2 0 R >>")
    add(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages)
    for i in range(pages):
        add(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font)
        )
        add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(offsets) + 1,
        xref,
    )
    return bytes(out)


def make_xlsx(rows: int) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Doanh thu")
    for i in range(rows):
        sheet.append([i, f"Khách hàng {i}", "Hà Nội", i * 1000, i * 0.5, "đã thanh toán"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _child(path: str, name: str, mode: str, out: multiprocessing.Queue[tuple[float, int]]) -> None:
    data = Path(path).read_bytes()
    start = time.perf_counter()
    if mode == "extract":
        from cong.files.extraction import ExtractLimits, extract_now

        extract_now(name, data, ExtractLimits(max_chars=10**9))
    else:
        hashlib.sha256(data).hexdigest()
    elapsed = time.perf_counter() - start
    out.put((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))


def measure(path: Path, name: str, mode: str) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[tuple[float, int]] = context.Queue()
    process = context.Process(target=_child, args=(str(path), name, mode, queue))
    process.start()
    result = queue.get(timeout=1800)
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 MB PDF, 5,000 rows")
    args = parser.parse_args()
    pdf_bytes, rows = (2 * 1024 * 1024, 5_000) if args.quick else (20 * 1024 * 1024, 50_000)
    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in (("big.pdf", make_pdf(pdf_bytes)), ("big.xlsx", make_xlsx(rows))):
            path = Path(tmp) / name
            path.write_bytes(data)
            base_time, base_rss = measure(path, name, "baseline")
            time_s, rss = measure(path, name, "extract")
            rows_out.append(
                f"| {name} | {len(data) / 1e6:.1f} MB | {time_s:.2f} s | {rss / 2**20:.0f} MiB "
                f"| {base_time:.3f} s / {base_rss / 2**20:.0f} MiB "
                f"| {time_s / max(base_time, 1e-9):.0f}x / {rss / base_rss:.1f}x |"
            )
    print("| file | size | extraction | peak RSS | baseline (read + sha256) | ratio time / RSS |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows_out))


if __name__ == "__main__":
    main()
