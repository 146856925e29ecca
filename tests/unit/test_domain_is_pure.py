"""The domain layer stays plain Python: no web framework, no database."""

from __future__ import annotations

import ast
from pathlib import Path

import loyalty.domain

FORBIDDEN = ("flask", "sqlalchemy", "psycopg", "wtforms", "jinja2", "werkzeug", "alembic")


def test_domain_modules_import_nothing_from_the_framework_or_the_database():
    folder = Path(loyalty.domain.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) > 2
    for module in modules:
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{module.name} imports {name}"
