"""`make bench`: the app's own code paths at 100,000 customers, beside the bare limits.

    python -m bench [--quick] [--customers N] [--out bench/results.json]

On PostgreSQL only (DATABASE_URL, or a scratch database on 127.0.0.1:5432 that is created and
dropped). Each figure is the median of several runs; see README "Performance".
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, event, make_url, select, text
from sqlalchemy.exc import DBAPIError

from bench.server import csrf_token, gunicorn, peak_rss_mb, signed_in, worker_pids
from loyalty import create_app
from loyalty.commands import alembic_config
from loyalty.config import normalize_database_url
from loyalty.db import scope_session_to_account
from loyalty.domain import importing
from loyalty.extensions import db
from loyalty.models import Customer, EngagementEvent
from loyalty.services import accounts, demo, imports, rescore_queue, tokens
from loyalty.services.scoring import rescore
from loyalty.types import utcnow

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-password-1"
WARM_UP = 3  # untimed requests of each page before its timed runs


def median_time(action, runs: int, before=None) -> float:
    """Median seconds of `action()` over `runs` (calling `before()` untimed each time)."""
    times = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def python_peak_mb(action, before=None) -> float:
    """Peak Python heap of one extra, untimed run (tracemalloc slows code, so never timed)."""
    if before:
        before()
    tracemalloc.start()
    try:
        action()
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    finally:
        tracemalloc.stop()


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextmanager
def scratch_database():
    """DATABASE_URL if given, else a new database on the local server, dropped at the end."""
    if os.environ.get("DATABASE_URL"):
        yield normalize_database_url(os.environ["DATABASE_URL"])
        return
    server = make_url(normalize_database_url(os.environ.get("BENCH_SERVER_URL", DEFAULT_SERVER)))
    name = f"loyalty_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def customers_csv(count: int) -> bytes:
    """A customer export as another system would send it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Customer ID", "Full Name", "Email", "Signup Date", "Tags"])
    for n in range(count):
        writer.writerow(
            [f"imp_{n:07d}", f"Import Person {n}", f"person{n}@example.org", "2025-06-01", "vip"]
        )
    return out.getvalue().encode()


class StatementCounter:
    """Counts SQL statements on an engine while active."""

    def __init__(self, engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args) -> None:
        self.count += 1


def bench_import(app, results: dict, count: int, runs: int) -> None:
    content = customers_csv(count)
    with app.app_context():
        session = db.session
        account = accounts.create_account(session, f"import-{uuid.uuid4().hex[:6]}@bench", PASSWORD)
        session.commit()
        account_id = account.id
        held: dict = {}

        def upload() -> None:
            held["upload"] = imports.store_upload(session, account_id, "customers.csv", content)
            session.commit()

        upload()
        mapping = importing.suggest_mapping(imports.preview(held["upload"]).columns)

        def empty() -> None:
            session.execute(text("DELETE FROM customers WHERE user_id = :a"), {"a": account_id})
            session.commit()
            upload()

        def run() -> None:
            imports.run_import(session, account_id, held["upload"], mapping, skip_invalid=False)
            session.commit()

        results["import_empty_s"] = median_time(run, runs, before=empty)
        results["import_reimport_s"] = median_time(run, runs, before=upload)
        results["import_python_peak_mb"] = python_peak_mb(run, before=upload)

        raw = session.connection().connection.driver_connection

        def bare_copy() -> None:
            with raw.cursor() as cursor:
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS bench_copy "
                    "(ext text, name text, email text, signup text, tags text)"
                )
                cursor.execute("TRUNCATE bench_copy")
                with cursor.copy(
                    "COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)"
                ) as copy:
                    copy.write(content)
            raw.commit()

        results["import_bare_copy_s"] = median_time(bare_copy, runs)

        def bare_sql() -> None:
            """The least SQL that puts the same file into the app's own tables."""
            bare_copy()
            with raw.cursor() as cursor:
                cursor.execute(BARE_IMPORT_CUSTOMERS, {"account": account_id})
                if cursor.rowcount != count:
                    raise SystemExit(f"the bare import wrote {cursor.rowcount} of {count} rows")
                cursor.execute(BARE_IMPORT_TAGS, {"account": account_id})
            raw.commit()

        # Like the import it is compared with, it leaves the account with the file's customers.
        results["import_bare_sql_s"] = median_time(bare_sql, runs, before=empty)
    results["import_rows"] = count
    results["import_rows_per_s"] = round(count / results["import_empty_s"])
    results["import_ratio_to_copy"] = round(
        results["import_empty_s"] / results["import_bare_copy_s"], 1
    )
    results["import_ratio_to_bare_sql"] = round(
        results["import_empty_s"] / results["import_bare_sql_s"], 1
    )


# The same rows written by hand, into the same indexed tables (and their triggers) the
# import writes: what any import into this schema pays for its indexes.
BARE_IMPORT_CUSTOMERS = """
INSERT INTO customers (id, user_id, external_customer_id, name, email, signup_date,
                       version, created_at, updated_at)
SELECT gen_random_uuid(), %(account)s, ext, name, email, signup::timestamptz, 1, now(), now()
FROM bench_copy
"""
BARE_IMPORT_TAGS = """
INSERT INTO customer_tags (customer_id, tag, user_id)
SELECT c.id, b.tags, %(account)s
FROM bench_copy b JOIN customers c ON c.user_id = %(account)s AND c.external_customer_id = b.ext
WHERE b.tags <> ''
"""


BARE_RESCORE = """
UPDATE customers AS c
SET churn_risk_score = LEAST(100, agg.tickets * 10 + agg.failures * 15
                                  + CASE WHEN agg.logins = 0 THEN 30 ELSE 0 END),
    churn_scored_at = now()
FROM (
  SELECT customer_id,
    count(*) FILTER (WHERE event_type = 'login'
                       AND event_date >= now() - interval '30 days') AS logins,
    count(*) FILTER (WHERE event_type = 'support_ticket'
                       AND event_date >= now() - interval '30 days') AS tickets,
    count(*) FILTER (WHERE event_type = 'payment_failed'
                       AND event_date >= now() - interval '60 days') AS failures
  FROM engagement_history WHERE user_id = :account GROUP BY customer_id
) AS agg
WHERE c.id = agg.customer_id
"""


def bench_rescore(app, account_id, results: dict, runs: int) -> None:
    with app.app_context():
        session = db.session

        def run() -> None:
            rescore(session, account_id)
            session.commit()

        def changed_scores() -> int:
            return rescore(session, account_id)

        # A daily rescore: the calendar moved, a few scores changed (written rows reported).
        results["rescore_s"] = median_time(run, runs)
        results["rescore_rows_written"] = changed_scores()
        session.commit()
        results["rescore_python_peak_mb"] = python_peak_mb(run)

        def forget_scores() -> None:
            session.execute(
                text("UPDATE customers SET churn_risk_score = NULL WHERE user_id = :a"),
                {"a": account_id},
            )
            session.commit()

        # The worst case: every customer's score changed (each row rewritten with its indexes).
        results["rescore_all_changed_s"] = median_time(run, 1, before=forget_scores)

        def bare() -> None:
            session.execute(text(BARE_RESCORE), {"account": account_id})
            session.rollback()  # the hand-written score is not kept

        results["rescore_bare_update_s"] = median_time(bare, runs)
        results["rescore_ratio_to_bare"] = round(
            results["rescore_s"] / results["rescore_bare_update_s"], 1
        )
        results["rescore_all_changed_ratio_to_bare"] = round(
            results["rescore_all_changed_s"] / results["rescore_bare_update_s"], 1
        )
        run()  # leave real scores behind for the page measurements


def vacuum(url: str) -> float:
    """VACUUM ANALYZE the whole scratch database; returns the seconds it took."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    start = time.perf_counter()
    with engine.connect() as connection:
        connection.execute(text("VACUUM (ANALYZE)"))
    engine.dispose()
    return round(time.perf_counter() - start, 2)


def checkpoint(url: str) -> None:
    """Write out what earlier phases left in shared buffers, so the next phase does not pay
    for it: without this a checkpoint of the seed's or the rescore's gigabyte of WAL can
    fall in the middle of a measurement (ingestion measured 14,000 events/s in such a run,
    18,000-20,000 in the others). Needs superuser or pg_checkpoint; skipped without."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
    except DBAPIError as error:
        progress(f"no CHECKPOINT between phases ({error.orig})")
    finally:
        engine.dispose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))
    return ordered[index]


def bench_pages(app, account_id, email: str, results: dict, runs: int) -> None:
    with app.app_context():
        session = db.session
        scope_session_to_account(session, account_id)
        busy = session.scalar(select(Customer).order_by(Customer.churn_risk_score.desc()).limit(1))
        now = utcnow()
        session.execute(
            EngagementEvent.__table__.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": account_id,
                    "customer_id": busy.id,
                    "event_type": "feature_used",
                    "event_date": now - timedelta(hours=n),
                    "details": {},
                    "created_at": now,
                }
                for n in range(1000)
            ],
        )
        session.commit()
        busy_id = busy.id
        segment_id = session.execute(
            text("SELECT id FROM customer_segments WHERE user_id = :a LIMIT 1"), {"a": account_id}
        ).scalar()
        scope_session_to_account(session, None)
    client = app.test_client()
    client.post("/login", data={"email": email, "password": PASSWORD})
    deep = "/customers?sort=name&dir=asc"
    for _ in range(20):  # follow "next" 20 pages in: keyset pages stay as fast
        page = client.get(deep).text
        marker = page.find('rel="next" href="')
        if marker < 0:
            break
        deep = page[marker + len('rel="next" href="') :].split('"')[0].replace("&amp;", "&")
    pages = {
        "table_default": ("get", "/customers", {}),
        "table_fragment": ("get", "/customers", {"HX-Request": "true"}),
        "table_no_match": ("get", "/customers?q=zzzznothing", {"HX-Request": "true"}),
        "table_some_matches": (
            "get",
            "/customers?q=Demo%20Customer%201234",
            {"HX-Request": "true"},
        ),
        "table_deep_page": ("get", deep, {"HX-Request": "true"}),
        "table_by_name": ("get", "/customers?sort=name&dir=asc", {"HX-Request": "true"}),
        "dashboard": ("get", "/", {}),
        "customer_1000_events": ("get", f"/customers/{busy_id}", {}),
    }
    if segment_id:
        pages["segment_preview"] = (
            "post",
            f"/segments/{segment_id}/criteria/preview",
            {"HX-Request": "true"},
        )
    counter = StatementCounter(app.extensions["db"].engine)
    figures = {}
    for name, (method, url, headers) in pages.items():
        data = (
            {"rules-0-field": "churn_risk", "rules-0-op": "above", "rules-0-value": "70"}
            if method == "post"
            else None
        )
        # A process's first request of a page compiles its templates and queries: that is
        # start-up, not the page's latency.
        for _ in range(WARM_UP):
            getattr(client, method)(url, headers=headers, data=data)
        times, statements = [], []
        for _ in range(runs):
            counter.count = 0
            start = time.perf_counter()
            response = getattr(client, method)(url, headers=headers, data=data)
            times.append((time.perf_counter() - start) * 1000)
            statements.append(counter.count)
            if response.status_code != 200:
                raise SystemExit(f"{name}: {url} answered {response.status_code}")
        figures[name] = {
            "p50_ms": round(percentile(times, 50), 1),
            "p99_ms": round(percentile(times, 99), 1),
            "statements": max(statements),
        }
    results["pages"] = figures

    # The whole account as a download, streamed as a browser would read it.
    start = time.perf_counter()
    download = client.get("/customers/export.csv", buffered=False)
    lines = sum(chunk.count(b"\n") for chunk in download.response)
    results["export_csv_s"] = round(time.perf_counter() - start, 2)
    if download.status_code != 200 or lines != results["customers"] + 1:
        raise SystemExit(f"the export answered {download.status_code} with {lines} lines")


def bench_ingestion(app, account_id, results: dict, batches: int) -> None:
    with app.app_context():
        _row, secret = tokens.create_token(db.session, account_id, "bench")
        db.session.commit()
        external_ids = list(
            db.session.scalars(
                select(Customer.external_customer_id)
                .where(Customer.user_id == account_id)
                .limit(batches * 1000)
            )
        )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    def post(batch_numbers) -> tuple[int, float]:
        """Batches of 1,000 events, each for other customers where there are enough."""
        total, elapsed = 0, 0.0
        for b in batch_numbers:
            batch = {
                "events": [
                    {
                        "externalCustomerId": external_ids[(b * 1000 + i) % len(external_ids)],
                        "eventType": "login",
                    }
                    for i in range(1000)
                ]
            }
            start = time.perf_counter()
            response = client.post(
                "/api/events", json=batch, headers={**headers, "Idempotency-Key": f"b{b}"}
            )
            elapsed += time.perf_counter() - start
            if response.status_code != 201:
                raise SystemExit(f"ingestion: {response.status_code} {response.text[:300]}")
            total += response.json["created"]
        return total, elapsed

    # As in production (QUEUE_RESCORES=1): the request writes, the rescore worker scores.
    app.config["QUEUE_RESCORES"] = True
    total, elapsed = post(range(batches))
    results["ingest_events"] = total
    results["ingest_events_per_s"] = round(total / elapsed)
    with app.app_context():
        queued, _oldest = rescore_queue.waiting(db.session)
        start = time.perf_counter()
        while rescore_queue.rescore_queued(db.session):  # what `flask rescore-worker` runs
            db.session.commit()
        seconds = time.perf_counter() - start
    results["rescore_worker_customers"] = queued
    results["rescore_worker_customers_per_s"] = round(queued / seconds)
    # Scoring inside each request instead (QUEUE_RESCORES=0, the default).
    app.config["QUEUE_RESCORES"] = False
    inline_total, inline_elapsed = post(range(batches, batches + max(2, batches // 4)))
    results["ingest_inline_events_per_s"] = round(inline_total / inline_elapsed)

    # The same events from a file: `flask import-events`, 1,000 at a time.
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-events-{uuid.uuid4().hex[:6]}.csv"
    rows = ["externalCustomerId,eventType,eventDate"]
    rows += [f"{external_ids[i % len(external_ids)]},feature_used," for i in range(total)]
    path.write_text("\n".join(rows) + "\n")
    with app.app_context():
        email = db.session.scalar(text("SELECT email FROM users WHERE id = :a"), {"a": account_id})
    try:
        start = time.perf_counter()
        outcome = app.test_cli_runner().invoke(args=["import-events", str(path), "--email", email])
        seconds = time.perf_counter() - start
    finally:
        path.unlink()
    if outcome.exit_code != 0:
        raise SystemExit(f"import-events failed: {outcome.output[-500:]}")
    results["file_events_per_s"] = round(total / seconds)


def bench_worker_memory(url: str, email: str, results: dict, count: int) -> None:
    """Peak RSS of one gunicorn worker importing `count` customers through the web UI."""
    content = customers_csv(count)
    with gunicorn(url, workers=1) as (base, master):
        browser = signed_in(base, email, PASSWORD)
        [worker] = worker_pids(master.pid)
        before = peak_rss_mb(worker)
        page = browser.get(f"{base}/customers/import").text
        response = browser.post(
            f"{base}/customers/import",
            files={"file": ("customers.csv", content, "text/csv")},
            headers={"X-CSRFToken": csrf_token(page)},
            allow_redirects=False,
        )
        review = base + response.headers["Location"]
        html = browser.get(review).text
        mapping = dict(
            (name, value)
            for name, value in re.findall(r'name="(map-[a-z_]+)" value="([^"]*)"', html)
        )
        start = time.perf_counter()
        done = browser.post(
            review,
            data={**mapping, "mode": "all"},
            headers={"X-CSRFToken": csrf_token(html)},
            allow_redirects=False,
        )
        results["web_import_s"] = round(time.perf_counter() - start, 2)
        if done.status_code != 303:
            raise SystemExit(f"web import answered {done.status_code}")
        results["worker_rss_before_import_mb"] = before
        results["worker_rss_peak_import_mb"] = peak_rss_mb(worker)


def bench_throughput(url: str, email: str, results: dict, seconds: int) -> None:
    """Requests/s with 16 concurrent clients (wrk) against gunicorn, 2 sync workers per core."""
    if not shutil.which("wrk"):
        results["throughput"] = "wrk is not installed (apt-get install wrk)"
        return
    workers = 2 * (os.cpu_count() or 1)
    figures = {}
    with gunicorn(url, workers=workers) as (base, _master):
        cookie = signed_in(base, email, PASSWORD).cookies["session"]
        for name, path in (("table", "/customers"), ("dashboard", "/")):
            output = subprocess.run(  # noqa: S603
                ["wrk", "-t2", "-c16", f"-d{seconds}s", "-H", f"Cookie: session={cookie}"]
                + [base + path],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if "Non-2xx" in output:
                raise SystemExit(f"wrk got errors from {path}:\n{output}")
            rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
            figures[name] = {"requests_per_s": float(rate.group(1)) if rate else None}
    results["throughput"] = {"clients": 16, "workers": workers, **figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the data (smoke run)")
    parser.add_argument("--customers", type=int, help="customers to generate (default 100,000)")
    parser.add_argument("--out", default="bench/results.json")
    args = parser.parse_args(argv)
    count = args.customers or (10_000 if args.quick else 100_000)
    runs = 3 if not args.quick else 1
    results: dict = {"customers": count, "quick": args.quick}
    with scratch_database() as url:
        command.upgrade(alembic_config(url), "head")
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench",
                "RATELIMIT_ENABLED": False,
                "WTF_CSRF_ENABLED": False,
            }
        )
        gc.freeze()  # as app.py does for a served app (its pages are timed in this process)
        email = f"demo-{uuid.uuid4().hex[:6]}@bench"
        with app.app_context():
            account = accounts.create_account(db.session, email, PASSWORD)
            db.session.commit()
            account_id = account.id
            start = time.perf_counter()
            seeded = demo.seed_account(db.session, account_id, customers=count, seed=7)
            db.session.commit()
            results["seed_s"] = round(time.perf_counter() - start, 2)
            results["events"] = seeded.events
        progress(f"seeded {count} customers in {results['seed_s']} s; importing")
        checkpoint(url)
        bench_import(app, results, count, runs)
        progress("rescoring")
        checkpoint(url)
        bench_rescore(app, account_id, results, runs)
        # Pages are measured as a database runs day to day: autovacuum soon visits tables after
        # a bulk load and sets their visibility maps (what index-only scans rely on).
        progress("vacuum (what autovacuum does after a bulk load)")
        results["vacuum_s"] = vacuum(url)
        checkpoint(url)
        progress("pages")
        bench_pages(app, account_id, email, results, 10 if args.quick else 30)
        checkpoint(url)
        progress("ingestion")
        bench_ingestion(app, account_id, results, 3 if args.quick else 20)
        checkpoint(url)
        app.extensions["db"].engine.dispose()
        progress("gunicorn: 16 clients")
        bench_throughput(url, email, results, 5 if args.quick else 15)
        progress("gunicorn: a worker's memory during a web import")
        bench_worker_memory(url, email, results, count)
    for key, value in list(results.items()):
        if isinstance(value, float):
            results[key] = round(value, 3)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nWritten to {args.out}")
    return 0


def print_table(results: dict) -> None:
    print(f"{'figure':<34} value")
    for key, value in results.items():
        if key == "pages":
            for page, figures in value.items():
                print(
                    f"  {page:<32} p50 {figures['p50_ms']:>7} ms  p99 {figures['p99_ms']:>7} ms  "
                    f"{figures['statements']} statements"
                )
        elif key == "throughput" and isinstance(value, dict):
            for page in ("table", "dashboard"):
                print(
                    f"  {page + ' (16 clients)':<32} {value[page]['requests_per_s']:>7} req/s  "
                    f"({value['workers']} gunicorn workers)"
                )
        else:
            print(f"{key:<34} {value}")


if __name__ == "__main__":
    sys.exit(main())
