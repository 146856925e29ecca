"""User data is always escaped: no template or view turns autoescaping off."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNSAFE = [
    re.compile(r"\|\s*safe\b"),
    re.compile(r"\bMarkup\s*\("),
    re.compile(r"autoescape\s+false"),
    re.compile(r"\bmark_safe\b"),
]


def test_no_template_or_view_bypasses_escaping():
    found = []
    for path in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("loyalty/**/*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if any(pattern.search(line) for pattern in UNSAFE):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "Escaping bypassed:\n" + "\n".join(found)


def test_the_check_sees_a_bypass(tmp_path):
    line = "{{ customer.name | safe }}"
    assert any(pattern.search(line) for pattern in UNSAFE)
