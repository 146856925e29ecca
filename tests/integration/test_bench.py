"""The benchmark runs end to end and writes every figure (its speed is not tested here)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from bench.__main__ import main


# The benchmark is PostgreSQL-only; CI always sets TEST_DATABASE_URL, so it always runs there.
@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="the benchmark needs PostgreSQL"
)
def test_bench_writes_every_figure(tmp_path, monkeypatch):
    server = os.environ["TEST_DATABASE_URL"]
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BENCH_SERVER_URL", server)
    out = tmp_path / "results.json"
    assert main(["--quick", "--customers", "300", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    for figure in (
        "seed_s",
        "import_empty_s",
        "import_reimport_s",
        "import_bare_copy_s",
        "import_ratio_to_copy",
        "import_bare_sql_s",
        "import_ratio_to_bare_sql",
        "rescore_s",
        "rescore_bare_update_s",
        "rescore_ratio_to_bare",
        "rescore_all_changed_s",
        "vacuum_s",
        "ingest_events_per_s",
        "ingest_inline_events_per_s",
        "rescore_worker_customers",
        "rescore_worker_customers_per_s",
        "file_events_per_s",
        "web_import_s",
        "export_csv_s",
        "worker_rss_peak_import_mb",
    ):
        assert results[figure] > 0, figure
    assert results["rescore_rows_written"] >= 0
    if shutil.which("wrk"):
        assert results["throughput"]["table"]["requests_per_s"] > 0
        assert results["throughput"]["dashboard"]["requests_per_s"] > 0
    assert set(results["pages"]) >= {"table_default", "dashboard", "customer_1000_events"}
    for page in results["pages"].values():
        assert 0 < page["statements"] <= 12
