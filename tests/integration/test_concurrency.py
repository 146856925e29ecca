"""Concurrency and interruption against a real PostgreSQL server and a real gunicorn.

Overlapping imports at the same moment, an import whose process is killed in the middle of
writing, and a gunicorn that is told to stop while a request is still running. Each test
gets a scratch database of its own: they need connections that really run side by side.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from redis import Redis
from sqlalchemy import create_engine, func, make_url, select, text

from bench.server import csrf_token, gunicorn, signed_in
from loyalty import create_app
from loyalty.domain import importing
from loyalty.extensions import db
from loyalty.models import Customer
from loyalty.services import accounts, rescore_queue
from loyalty.services.event_ingestion import ingest
from loyalty.services.imports import import_records
from tests.databases import scratch_database

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL (CI always has it)"
)
EMAIL, PASSWORD = "owner@example.com", "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]


def customers_csv(numbers) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Customer ID", "Name", "Email", "Signup Date"])
    for n in numbers:
        writer.writerow([f"c-{n:07d}", f"Person {n}", f"p{n}@example.org", "2025-06-01"])
    return out.getvalue().encode()


@pytest.fixture
def database(tmp_path, monkeypatch):
    """A scratch PostgreSQL database with one account; yields (url, account id)."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    with scratch_database("postgresql", tmp_path) as url:
        app = create_app({"SECRET_KEY": "x", "DATABASE_URL": url})
        with app.app_context():
            account = accounts.create_account(db.session, EMAIL, PASSWORD)
            db.session.commit()
            account_id = account.id
        app.extensions["db"].engine.dispose()
        yield url, account_id


def count_customers(url: str) -> tuple[int, int]:
    """(customers, distinct external ids) in the database."""
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = connection.execute(
            select(func.count(), func.count(Customer.external_customer_id.distinct()))
        ).one()
    engine.dispose()
    return tuple(counts)


def test_two_overlapping_imports_at_once_create_no_duplicates(database):
    url, account_id = database
    files = [customers_csv(range(0, 3000)), customers_csv(range(1500, 4500))]
    start = threading.Barrier(len(files), timeout=60)
    results, errors = [], []
    # Two apps, as two web workers would have; built here, since only the imports are on trial.
    apps = [create_app({"SECRET_KEY": "x", "DATABASE_URL": url}) for _ in files]

    def run(app, content: bytes) -> None:
        try:
            with app.app_context():

                def table():
                    return importing.read_table(io.BytesIO(content), "csv")

                mapping = importing.suggest_mapping(table().columns)
                start.wait()
                results.append(import_records(db.session, account_id, table, mapping, False))
                db.session.commit()
        except Exception as error:  # noqa: BLE001 (reported below, with the other thread's)
            start.abort()  # the other thread must not wait for this one
            errors.append(error)
        finally:
            app.extensions["db"].engine.dispose()

    # Daemon threads: one stuck in the database cannot keep pytest from exiting.
    threads = [
        threading.Thread(target=run, args=pair, daemon=True)
        for pair in zip(apps, files, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert count_customers(url) == (4500, 4500)
    # Between them the two imports created each shared customer exactly once.
    assert sum(r.counts.created for r in results) == 4500


def test_an_import_killed_while_writing_leaves_nothing_behind(database, tmp_path):
    url, _account_id = database
    path = tmp_path / "big.csv"
    path.write_bytes(customers_csv(range(300_000)))
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path)}
    log = tmp_path / "import.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "flask", "--app", "app", "import-customers", str(path)]
            + ["--email", EMAIL],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = make_url(url)
    watcher = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    caught_writing = False
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            with watcher.connect() as connection:
                writing = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = :name "
                        "AND state = 'active' AND query ILIKE '%customer_import_stage%'"
                    ),
                    {"name": server.database},
                ).scalar()
            if writing:
                caught_writing = True
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        watcher.dispose()
    assert caught_writing, log.read_text()[-2000:]
    # The server rolled the dead client's transaction back: not one customer was kept.
    deadline = time.monotonic() + 10
    while count_customers(url)[0] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert count_customers(url) == (0, 0)


def test_gunicorn_finishes_the_request_in_flight_when_told_to_stop(database):
    url, _account_id = database
    with gunicorn(url, workers=1) as (base, master):
        browser = signed_in(base, EMAIL, PASSWORD)
        page = browser.get(f"{base}/customers/import").text
        uploaded = browser.post(
            f"{base}/customers/import",
            files={"file": ("customers.csv", customers_csv(range(60_000)), "text/csv")},
            headers={"X-CSRFToken": csrf_token(page)},
            allow_redirects=False,
        )
        review = base + uploaded.headers["Location"]
        html = browser.get(review).text
        mapping = dict(re.findall(r'name="(map-[a-z_]+)" value="([^"]*)"', html))
        answer = {}

        def finish_import() -> None:
            answer["response"] = browser.post(
                review,
                data={**mapping, "mode": "all"},
                headers={"X-CSRFToken": csrf_token(html)},
                allow_redirects=False,
                timeout=60,
            )

        request = threading.Thread(target=finish_import, daemon=True)
        request.start()
        time.sleep(0.5)  # the import is under way in the worker
        assert request.is_alive()
        master.send_signal(signal.SIGTERM)
        request.join(timeout=60)
        assert master.wait(timeout=40) == 0
    assert answer["response"].status_code == 303
    assert count_customers(url) == (60_000, 60_000)


def test_login_limits_hold_across_workers_with_a_shared_store(database):
    """Two gunicorn workers, one Redis: the tenth failure locks the address on both."""
    url, _account_id = database
    redis = "redis://127.0.0.1:6379/13"
    Redis.from_url(redis).flushdb()  # counts left by an earlier run
    with gunicorn(url, workers=2, RATELIMIT_ENABLED="1", RATELIMIT_STORAGE_URI=redis) as (
        base,
        _master,
    ):
        statuses = []
        for _ in range(16):  # a new connection each time: the workers share the attempts
            browser = requests.Session()
            token = csrf_token(browser.get(f"{base}/login").text)
            answer = browser.post(
                f"{base}/login",
                data={"email": EMAIL, "password": "wrong password", "csrf_token": token},
            )
            statuses.append(answer.status_code)
    assert statuses == [422] * 10 + [429] * 6


def test_an_event_committed_while_the_worker_scores_is_never_left_unscored(database):
    """The rescore queue's locking (see services/rescore_queue.py), both ways round."""
    url, account_id = database
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": url, "QUEUE_RESCORES": True})
    with app.app_context():
        customer = Customer(
            user_id=account_id,
            external_customer_id="cus_1",
            name="Ada",
            email="ada@example.org",
            signup_date=datetime(2025, 1, 1, tzinfo=UTC),
        )
        db.session.add(customer)
        db.session.commit()
        customer_id = customer.id
    batch = {"events": [{"externalCustomerId": "cus_1", "eventType": "cancellation_request"}]}

    def scores(session):
        return session.scalar(select(Customer.churn_risk_score).where(Customer.id == customer_id))

    with app.app_context():
        ingesting, worker = db.new_session(), db.new_session()
        try:
            # 1. Already queued, and an ingestion is writing more events: the worker skips
            # the customer until that ingestion commits, then scores the event.
            rescore_queue.enqueue(worker, account_id, [customer_id])
            worker.commit()
            ingest(ingesting, account_id, batch, queue_rescores=True)  # not committed yet
            assert rescore_queue.rescore_queued(worker) == 0
            worker.commit()
            ingesting.commit()
            assert rescore_queue.rescore_queued(worker) == 1
            worker.commit()
            facts = worker.get(Customer, customer_id).churn_risk_facts
            assert facts["cancellation_requests"] == 1 and scores(worker) is not None

            # 2. The worker claimed the customer first: the ingestion waits for it to finish,
            # then queues the customer again, so its events are scored on the next round.
            ingest(ingesting, account_id, batch, queue_rescores=False)  # an event, scored
            ingesting.commit()
            rescore_queue.enqueue(worker, account_id, [customer_id])
            worker.commit()
            assert rescore_queue.rescore_queued(worker) == 1  # claimed, not committed
            done = threading.Event()

            def ingest_meanwhile():
                with app.app_context():
                    session = db.new_session()
                    ingest(session, account_id, batch, queue_rescores=True)
                    session.commit()
                    session.close()
                done.set()

            thread = threading.Thread(target=ingest_meanwhile, daemon=True)
            thread.start()
            assert not done.wait(1.0)  # waiting for the worker's claim
            worker.commit()
            assert done.wait(30)
            assert rescore_queue.waiting(worker, account_id)[0] == 1
        finally:
            ingesting.close()
            worker.close()
    app.extensions["db"].engine.dispose()
