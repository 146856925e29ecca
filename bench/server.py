"""The app under gunicorn, for the benchmark and for the tests that need a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests


@contextmanager
def gunicorn(url: str, workers: int, **settings: str):
    """The app served by gunicorn (sync workers) on a free local port.

    Yields (base URL, master process); `settings` are extra environment variables."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench",
        "RATELIMIT_ENABLED": "0",
        "APP_ENV": "development",
        **settings,
    }
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "gunicorn", "app:app", "--workers", str(workers)]
        + ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{base}/healthz", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not start")
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers of a master process (Linux /proc)."""
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def _status_mb(pid: int, field: str) -> float:
    """One memory figure of /proc/PID/status (VmRSS, VmHWM...), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def peak_rss_mb(pid: int) -> float:
    """The most memory a process has held so far (VmHWM), in MB."""
    return _status_mb(pid, "VmHWM")


def reset_peak_rss(pid: int) -> float:
    """Start counting a process's peak memory afresh (Linux clear_refs); returns its RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_mb(pid, "VmRSS")


def signed_in(base: str, email: str, password: str) -> requests.Session:
    """A requests session signed in to the app at `base`, the way a browser signs in."""
    browser = requests.Session()
    token = csrf_token(browser.get(f"{base}/login").text)
    response = browser.post(
        f"{base}/login", data={"email": email, "password": password, "csrf_token": token}
    )
    if "session" not in browser.cookies:
        raise SystemExit(f"could not sign in to gunicorn: {response.status_code}")
    return browser


def csrf_token(html: str) -> str:
    """The CSRF token a page of the app carries (the one htmx sends)."""
    return html.split('"X-CSRFToken": "')[1].split('"')[0]
