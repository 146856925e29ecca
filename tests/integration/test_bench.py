"""The benchmark runs end to end and writes every figure (its speed is not tested here)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from bench.__main__ import TARGETS, main


# The benchmark is PostgreSQL-only; CI always sets TEST_DATABASE_URL, so it always runs there.
@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="the benchmark needs PostgreSQL"
)
def test_bench_writes_every_figure(tmp_path, monkeypatch):
    server = os.environ["TEST_DATABASE_URL"]
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BENCH_SERVER_URL", server)
    out = tmp_path / "results.json"
    assert main(["--quick", "--out", str(out)]) == 0  # a tenth of the data: 10,000 customers
    results = json.loads(out.read_text())
    customers = results["customers"]
    assert customers == 10_000
    for figure in (
        "python_steps_ms",
        "python_steps_ms_at_pages",
        "seed_s",
        "import_empty_s",
        "import_reimport_s",
        "import_unchanged_s",
        "import_upload_s",
        "import_bare_copy_s",
        "import_bare_copy_indexed_s",
        "import_empty_ratio_to_copy",
        "import_reimport_ratio_to_copy",
        "import_bare_sql_s",
        "import_ratio_to_bare_sql",
        "rescore_s",
        "rescore_rows_written",
        "rescore_bare_update_s",
        "rescore_ratio_to_bare",
        "rescore_all_changed_s",
        "vacuum_s",
        "ingest_events_per_s",
        "ingest_scored_events_per_s",
        "ingest_inline_events_per_s",
        "rescore_worker_customers",
        "rescore_worker_customers_per_s",
        "file_events_per_s",
        "web_upload_s",
        "web_review_s",
        "web_import_s",
        "export_csv_s",
        "worker_rss_peak_import_mb",
    ):
        assert results[figure] > 0, figure
    # The imports did what they are named for: every row created, then every row updated.
    assert results["import_empty_created"] == customers
    assert results["import_reimport_updated"] == customers
    assert results["rescore_all_changed_rows_written"] == customers
    assert results["busy_customer_events"] >= 1000
    pages = results["pages"]
    assert set(pages) >= {
        "table_default",
        "table_some_matches",
        "table_deep_page",
        "dashboard",
        "customer_1000_events",
        "segment_preview",
    }
    for page in pages.values():
        assert 0 < page["statements"] <= 12
        assert page["in_process_p50_ms"] > 0
    assert pages["table_default"]["shows"] == "10,000 customers"
    assert pages["table_no_match"]["shows"] == "0 customers match"
    assert 5 <= int(pages["table_some_matches"]["shows"].split()[0]) <= 100
    if shutil.which("wrk"):
        assert results["throughput"]["table"]["requests_per_s"] > 0
        assert results["throughput"]["dashboard"]["requests_per_s"] > 0
        assert all(page["p50_ms"] > 0 and page["requests"] > 0 for page in pages.values())
    # Every target is listed with its figure; at a tenth of the data none is judged.
    assert len(results["targets"]) == len(TARGETS)
    for target in results["targets"]:
        over_http = target["figure"].startswith(("pages.", "throughput."))
        assert target["measured"] is not None or (over_http and not shutil.which("wrk"))
        assert target["met"] is None
