"""Entry point: `flask --app app run` and `gunicorn app:app`."""

import gc

from loyalty import create_app

app = create_app()
# What start-up built lives as long as the process: frozen, it is left out of the cyclic
# garbage collector, whose full passes then scan only what requests leave behind (a few
# ms instead of stalling the worker for about 100 ms).
gc.freeze()
