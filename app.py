"""Entry point: `flask --app app run` and `gunicorn app:app`."""

from loyalty import create_app

app = create_app()
