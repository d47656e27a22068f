"""Invoice PDF: our render path against WeasyPrint alone, in one warm process.

What each timing measures (medians of interleaved runs, after a warm-up of each):
- floor_ms: WeasyPrint renders a bare A4 page holding one line of text in the invoice's
  font (DejaVu Sans): the least any PDF costs. Never tuned.
- invoice_1_line_ms / invoice_10_lines_ms: `invoicing.pdf.render()` of an issued invoice
  (made by create_draft + issue_invoice on the demo practice, with its logo snapshotted),
  loaded from the database each time as the PDF task does: our queries, context, template
  and safe URL fetcher, plus WeasyPrint laying out the real document.
- same_html_from_file_ms (and _1_line_): WeasyPrint alone, with its defaults, renders the
  very HTML our code built for the 10-line (1-line) invoice, saved to a file, with the
  same stylesheet file (static/css/invoice.css, given as WeasyPrint's `stylesheets`, as
  ours is) and the same logo file (an absolute file: URI in the HTML). The document is the
  same (checked below: pages, images, text); missing is our part (database, template,
  fetcher) and also what we reuse between renders (fonts, parsed stylesheet, decoded
  logo), so the overhead can come out below zero. overhead_vs_file_pct is ours over it.
"""

from __future__ import annotations

import shutil
import tempfile
from io import BytesIO
from pathlib import Path

from . import common

common.use_database(common.clone_database("bench_pdf"))

from pypdf import PdfReader  # noqa: E402
from weasyprint import HTML  # noqa: E402

from flux.celery import app as celery_app  # noqa: E402
from invoicing import invoices, pdf  # noqa: E402
from invoicing.models import Invoice  # noqa: E402

from . import invoice_data  # noqa: E402

REPEAT = common.pick(5, 15)
WARM_UP = common.pick(1, 3)

FLOOR_HTML = """<!doctype html><html><head><meta charset="utf-8"><style>
@page { size: A4; } html { font-family: "DejaVu Sans", sans-serif; font-size: 9pt; }
</style></head><body><p>Factuur 2026-00001</p></body></html>"""


def floor() -> bytes:
    data: bytes = HTML(string=FLOOR_HTML).write_pdf()
    return data


def issue(lines: int) -> int:
    by = invoice_data.admin()
    draft = invoice_data.draft(invoice_data.patient_with_email(), lines,
                               invoice_data.products(), by)
    return invoices.issue_invoice(draft, by=by).pk


def ours(pk: int) -> bytes:
    return pdf.render(Invoice.objects.get(pk=pk))


def from_file(path: Path) -> bytes:
    data: bytes = HTML(filename=str(path)).write_pdf(stylesheets=[str(pdf.STYLESHEET)])
    return data


def described(data: bytes) -> tuple[int, int, str]:
    """Pages, images and text of a PDF: what must match between ours and the file's."""
    reader = PdfReader(BytesIO(data))
    return (len(reader.pages), sum(len(p.images) for p in reader.pages),
            "".join(p.extract_text() for p in reader.pages))


def main() -> None:
    invoice_data.prepare_practice()
    one, ten = issue(1), issue(10)
    # Issuing queued PDF tasks and emails on the runner's Redis; no worker here takes
    # them, and the pipeline benchmark must not find them: drop them.
    celery_app.control.purge()
    assert Invoice.objects.get(pk=ten).seller["logo"], "the invoice did not snapshot the logo"

    folder = Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    files = {}
    for name, pk in (("1", one), ("10", ten)):
        files[name] = folder / f"invoice-{name}.html"
        files[name].write_text(pdf.invoice_html(Invoice.objects.get(pk=pk)), encoding="utf-8")

    runs = {
        "floor": floor,
        "invoice_1_line": lambda: ours(one),
        "invoice_10_lines": lambda: ours(ten),
        "same_html_1_line_from_file": lambda: from_file(files["1"]),
        "same_html_from_file": lambda: from_file(files["10"]),
    }
    for fn in runs.values():
        for _ in range(WARM_UP):
            fn()
    # The comparison is honest only if the file gives the same document as ours.
    for name, pk in (("1", one), ("10", ten)):
        mine, theirs = described(ours(pk)), described(from_file(files[name]))
        assert mine == theirs, f"{name} line(s): ours {mine[:2]} differs from file {theirs[:2]}"
        assert mine[0] == 1 and mine[1] == 1, f"expected one page with the logo, got {mine[:2]}"

    samples = common.interleaved(runs, REPEAT)
    result: dict[str, float | int] = {f"{name}_ms": common.median_ms(values)
                                      for name, values in samples.items()}
    floor_ms = result["floor_ms"]
    result |= {
        "ratio_1_line_to_floor": round(result["invoice_1_line_ms"] / floor_ms, 2),
        "ratio_10_lines_to_floor": round(result["invoice_10_lines_ms"] / floor_ms, 2),
        "ratio_file_to_floor": round(result["same_html_from_file_ms"] / floor_ms, 2),
        "overhead_vs_file_pct": round(
            100 * (result["invoice_10_lines_ms"] / result["same_html_from_file_ms"] - 1), 1),
        "overhead_1_line_vs_file_pct": round(
            100 * (result["invoice_1_line_ms"] / result["same_html_1_line_from_file_ms"] - 1), 1),
        "pdf_bytes_10_lines": len(ours(ten)),
        "repeat": REPEAT,
        "goal_ratio_to_floor_max": 3,
        "goal_overhead_pct_max": 20,
    }
    shutil.rmtree(folder)
    common.write_section("pdf", result)


if __name__ == "__main__":
    main()
