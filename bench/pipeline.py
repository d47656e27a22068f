"""Month-end invoicing: issue many product invoices (3 lines each, for a few hundred
patients, drafts made beforehand); a Celery worker with two pool processes on the runner's
Redis, started as docker-compose starts it, renders each PDF and sends each invoice email
to an SMTP sink (aiosmtpd, in this process). The issuing runs here, on the same two cores.

There is no floor for the whole pipeline. As references: the render alone (our
`pdf.render`, warm, here) times the invoices over the two workers, and the CPU each
invoice costs in the workers and in the issuer, which bounds what two cores can do:
cpu_bound_per_second = the cores / (workers' + issuer's CPU per invoice), before PostgreSQL,
Redis and whatever else runs on the machine take their share.

- wall_s: from the first issue_invoice until the sink holds one email per invoice.
- per_second: invoices / wall_s, end to end.
- emails_distinct: distinct invoice numbers in the received PDF attachments' names;
  emails_total counts every message, so a duplicate shows as total > distinct.
- rss_mb_at_100 / rss_mb_at_1000: the resident memory of the two pool processes (the
  worker processes that run the tasks) summed, when the 100th and the last email arrived
  (emails trail their PDFs: each is queued once its PDF is stored, behind the PDFs queued
  by then); the worker's main process (it only hands out tasks) is reported apart.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import common

DATABASE = common.clone_database("bench_pipeline")
common.use_database(DATABASE)

from aiosmtpd.controller import Controller  # noqa: E402

from flux.celery import app as celery_app  # noqa: E402
from invoicing import invoices, pdf  # noqa: E402
from invoicing.models import Invoice  # noqa: E402
from patients.models import Patient  # noqa: E402

from . import invoice_data  # noqa: E402

INVOICES = common.pick(24, 1000)
PATIENTS = common.pick(8, 200)
EARLY = common.pick(8, 100)  # the first memory sample: after this many emails
WORKERS = 2
TIMEOUT = common.pick(60, 400)  # seconds for all emails to arrive
ATTACHMENT = re.compile(rb'filename="?([^";\r\n]+)\.pdf', re.IGNORECASE)


class Sink:
    """Accepts every message and keeps only what we count: the invoice number of its PDF
    attachment, and when it arrived."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.numbers: list[str] = []
        self.arrived: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        found = ATTACHMENT.search(envelope.original_content or envelope.content)
        with self.lock:
            self.numbers.append(found.group(1).decode() if found else "")
            self.arrived.append(time.perf_counter())
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.numbers)


def pool_pids(main: int) -> list[int]:
    """The worker's pool processes: the children of its main process."""
    found = []
    for task in Path(f"/proc/{main}/task").iterdir():
        found += [int(pid) for pid in (task / "children").read_text().split()]
    return sorted(found)


def pool_rss(main: int) -> float:
    return round(sum(common.rss_mb(pid) for pid in pool_pids(main)), 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def start_worker(smtp_port: int) -> tuple[subprocess.Popen[bytes], Path]:
    log = common.OUT / "pipeline-worker.log"
    env = os.environ | {"DATABASE_URL": common.database_url(DATABASE),
                        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}"}
    command = [str(Path(sys.executable).parent / "celery"), "-A", "flux", "worker", "-l",
               "info", "--concurrency", str(WORKERS), "--without-mingle", "--without-gossip",
               "-n", f"bench-{os.getpid()}@%h"]  # as docker-compose runs it
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=common.ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while b" ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("worker did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.1)
    while len(pool_pids(process.pid)) < WORKERS:
        time.sleep(0.1)
    time.sleep(1)  # each pool process warms its PDF renderer (worker_process_init)
    return process, log


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def make_drafts() -> list[Invoice]:
    """One draft per invoice, for a few hundred patients with an email address: the
    package product and two others (not timed: drafts are made during the month)."""
    Patient.objects.bulk_create([
        Patient(first_name=f"Patiënt{i}", last_name="Maandeinde", email=f"p{i}@example.test",
                street="Kerkstraat 1", postal_code="1234 AB", city="Zeist",
                language="en" if i % 10 == 0 else "nl")
        for i in range(PATIENTS)])
    patients = list(Patient.objects.filter(last_name="Maandeinde").order_by("pk"))
    products, by = invoice_data.products(), invoice_data.admin()
    return [invoice_data.draft(patients[i % len(patients)], 3, products, by)
            for i in range(INVOICES)]


def render_alone_ms(pk: int) -> float:
    """Our render of one of the issued invoices, here, warm: the reference per PDF."""
    invoice = Invoice.objects.get(pk=pk)
    pdf.render(invoice)
    samples = common.interleaved({"render": lambda: pdf.render(invoice)}, 5)
    return common.median_ms(samples["render"])


def main() -> None:
    invoice_data.prepare_practice()
    drafts = make_drafts()
    by = invoice_data.admin()
    celery_app.control.purge()  # nothing left over from another benchmark on this Redis

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=common.free_port())
    controller.start()
    worker, log = start_worker(controller.port)
    samples: dict[int, float] = {}
    try:
        rss_start = pool_rss(worker.pid)
        pool = pool_pids(worker.pid)
        cpu_before = [cpu_seconds(pid) for pid in pool], own_cpu_seconds()
        started = time.perf_counter()
        for draft in drafts:
            invoices.issue_invoice(draft, by=by)
            if EARLY not in samples and sink.count() >= EARLY:
                samples[EARLY] = pool_rss(worker.pid)
        issued_s = time.perf_counter() - started
        deadline = time.monotonic() + TIMEOUT
        while sink.count() < INVOICES and time.monotonic() < deadline:
            if EARLY not in samples and sink.count() >= EARLY:
                samples[EARLY] = pool_rss(worker.pid)
            time.sleep(0.02)
        finished = time.perf_counter()
        samples[INVOICES] = pool_rss(worker.pid)
        main_rss = common.rss_mb(worker.pid)
        assert pool_pids(worker.pid) == pool, "a pool process was replaced during the run"
        pool_cpu = sum(cpu_seconds(pid) for pid in pool) - sum(cpu_before[0])
        own_cpu = own_cpu_seconds() - cpu_before[1]
        time.sleep(1)  # a duplicate sent late would still show
    finally:
        stop_worker(worker)
        controller.stop()

    issued = set(Invoice.objects.exclude(number="").values_list("number", flat=True))
    received = [n for n in sink.numbers if n]
    wall = (sink.arrived[-1] if sink.count() >= INVOICES else finished) - started
    render_ms = render_alone_ms(drafts[0].pk)
    common.write_section("pipeline", {
        "invoices": INVOICES,
        "wall_s": round(wall, 2),
        "per_second": round(INVOICES / wall, 2),
        "emails_distinct": len(set(received) & issued),
        "emails_total": sink.count(),
        "emails_without_invoice_pdf": sink.count() - len(received),
        "pdfs_stored": Invoice.objects.filter(pdf_state=Invoice.PdfState.READY).count(),
        "rss_mb_at_100": samples.get(EARLY),
        "rss_mb_at_1000": samples[INVOICES],
        "rss_growth_pct": (round(100 * (samples[INVOICES] / samples[EARLY] - 1), 1)
                           if samples.get(EARLY) else None),
        "rss_sample_early_at": EARLY,
        "rss_mb_pool_at_start": rss_start,
        "rss_mb_main_process": main_rss,
        "issue_s": round(issued_s, 2),
        "issue_per_second": round(INVOICES / issued_s, 2),
        # CPU per invoice, robust to a busy machine: the two pool processes (render, send)
        # and this process (issue_invoice, plus the SMTP sink's thread); PostgreSQL and
        # Redis come on top. On 2 cores the pipeline cannot beat 2 / (their sum).
        "cpu_ms_per_invoice_workers": round(1000 * pool_cpu / INVOICES, 1),
        "cpu_ms_per_invoice_issuer": round(1000 * own_cpu / INVOICES, 1),
        "cpu_bound_per_second": round((os.cpu_count() or 1) * INVOICES / (pool_cpu + own_cpu), 2),
        "render_alone_ms": render_ms,
        "reference_render_only_s": round(render_ms * INVOICES / WORKERS / 1000, 2),
        "worker_processes": WORKERS,
        "goal_per_second_min": 12,
        "goal_rss_growth_pct_max": 10,
        "worker_log": str(log.relative_to(common.ROOT)),
    })


if __name__ == "__main__":
    main()
