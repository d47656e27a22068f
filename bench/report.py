"""The goals table of bench/README.md, written from bench/results.json after a full run
(between the two marker lines), so the README always shows the numbers of the file."""

from __future__ import annotations

from typing import Any

from .common import ROOT

README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- results: written by bench/report.py -->", "<!-- end of results -->"


def times(ours: float, floor: float) -> str:
    return f"{ours / floor:.1f}×"


def goals(r: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(goal, measured, ratio or distance, met) for every goal of the issue."""
    rows = []
    b = r["booking"]
    rows += [
        ("Booking latency ≤ 2.5× bare Django",
         f"{b['http_latency_ms']} ms ours, {b['bare_latency_ms']} ms bare, "
         f"{b['rawsql_latency_ms']} ms raw SQL",
         f"{times(b['http_latency_ms'], b['bare_latency_ms'])} (bare/raw "
         f"{times(b['bare_latency_ms'], b['rawsql_latency_ms'])})",
         b["http_latency_ms"] <= 2.5 * b["bare_latency_ms"]),
        (f"Booking throughput ≥ 40 % of bare Django ({b['clients']} clients)",
         f"{b['http_tps']}/s ours, {b['bare_tps']}/s bare, {b['rawsql_tps']}/s raw SQL",
         f"{100 * b['http_tps'] / b['bare_tps']:.0f} % (bare/raw "
         f"{100 * b['bare_tps'] / b['rawsql_tps']:.0f} %)",
         b["http_tps"] >= 0.4 * b["bare_tps"]),
        ("Credits never oversold; ≥ 10 % of attempts refused",
         f"{b['oversold']} oversold, {100 * b['refused_share']:.0f} % refused",
         "", b["oversold"] == 0 and b["refused_share"] >= 0.1),
        ("Booking at 1,000,000 entries: index scans only",
         f"{b.get('ledger_entries_large', '?'):,} entries", "",
         bool(b["index_scans_only"])),
        ("Booking at 1,000,000 entries within 25 % of 1,000",
         f"{b['latency_1m_ms']} ms vs {b['latency_1k_ms']} ms",
         f"{100 * (b['latency_1m_ms'] / b['latency_1k_ms'] - 1):+.0f} %",
         b["latency_1m_ms"] <= 1.25 * b["latency_1k_ms"]),
    ]
    p = r["pdf"]
    for lines, key in (("1 line", "invoice_1_line_ms"), ("10 lines", "invoice_10_lines_ms")):
        rows.append((f"Invoice PDF ({lines}, logo) ≤ 3× a bare page",
                     f"{p[key]} ms vs {p['floor_ms']} ms", times(p[key], p["floor_ms"]),
                     p[key] <= 3 * p["floor_ms"]))
    overhead = 100 * (p["invoice_10_lines_ms"] / p["same_html_from_file_ms"] - 1)
    rows.append(("Our overhead over the same HTML from a file ≤ 20 %",
                 f"{p['invoice_10_lines_ms']} ms vs {p['same_html_from_file_ms']} ms",
                 f"{overhead:+.0f} %", overhead <= 20))
    q = r["pipeline"]
    rows += [
        ("Pipeline ≥ 12 invoices/s end to end",
         f"{q['invoices']} invoices in {q['wall_s']} s", f"{q['per_second']}/s",
         q["per_second"] >= 12),
        ("Pipeline exactly once", f"{q['emails_distinct']} distinct emails", "",
         q["emails_distinct"] == q["invoices"]),
        ("Worker memory after 1,000 within 10 % of after 100",
         f"{q['rss_mb_at_1000']} MB vs {q['rss_mb_at_100']} MB",
         f"{100 * (q['rss_mb_at_1000'] / q['rss_mb_at_100'] - 1):+.0f} %",
         q["rss_mb_at_1000"] <= 1.1 * q["rss_mb_at_100"]),
    ]
    for screen, s in r["screens"].items():
        if not isinstance(s, dict) or "median_ms" not in s:
            continue
        rows.append((f"Screen {screen} < 100 ms, queries of one row",
                     f"{s['median_ms']} ms, {s['queries']} queries",
                     f"one row: {s['queries_one_row']} queries",
                     s["median_ms"] < 100 and s["queries"] == s["queries_one_row"]))
    return rows


def table(results: dict[str, Any]) -> str:
    m = results["machine"]
    head = (f"Run of {m['date']} on {m['cores']} cores ({m['cpu']}), Python {m['python']}, "
            f"PostgreSQL {m['postgresql']}, {m['seconds']} s in all "
            f"(load average {m['load_average_at_start']} at the start).\n\n"
            "| Goal | Measured | Ratio | Met |\n|---|---|---|---|\n")
    return head + "".join(f"| {goal} | {measured} | {ratio} | {'yes' if met else '**no**'} |\n"
                          for goal, measured, ratio, met in goals(results))


def write(results: dict[str, Any]) -> None:
    text = README.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + table(results) + text[end:])
