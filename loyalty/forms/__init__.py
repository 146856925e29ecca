"""flask-wtf forms, one module per area."""

from flask_wtf import FlaskForm


class Form(FlaskForm):
    """A form whose CSRF check is the app-wide one (form field or X-CSRFToken header).

    Several copies of a form can sit on one page (inline row edits), each with a prefix;
    the app-wide check (loyalty/security.py) covers every POST, so forms skip their own.
    """

    class Meta:
        csrf = False
