"""Sign-up, log-in and password forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError

from loyalty.time_zones import DEFAULT_ZONE, menu_zone_names, zone_named

# NIST SP 800-63B: at least 8 characters, allow long pass-phrases.
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256


def strip(value: str | None) -> str | None:
    """Ignore spaces around typed values."""
    return value.strip() if isinstance(value, str) else value


class SignupForm(FlaskForm):
    """Create an account."""

    email = EmailField(
        "Work e-mail",
        filters=[strip],
        validators=[DataRequired("Enter your e-mail address."), Email("Enter a valid e-mail.")],
    )
    company_name = StringField(
        "Company (optional)", filters=[strip], validators=[Optional(), Length(max=200)]
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired("Choose a password."),
            Length(
                min=PASSWORD_MIN_LENGTH,
                max=PASSWORD_MAX_LENGTH,
                message=f"Use at least {PASSWORD_MIN_LENGTH} characters.",
            ),
        ],
    )
    confirm = PasswordField(
        "Repeat password",
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", "The two passwords differ."),
        ],
    )
    # Filled in by the browser (static/app.js); the account page can change it later.
    time_zone = HiddenField(render_kw={"data-browser-time-zone": ""})

    def chosen_time_zone(self) -> str:
        """The browser's zone when it named a real one, else UTC (nothing to correct here)."""
        return self.time_zone.data if zone_named(self.time_zone.data) else DEFAULT_ZONE


class LoginForm(FlaskForm):
    """Sign in to an existing account."""

    email = EmailField(
        "E-mail", filters=[strip], validators=[DataRequired("Enter your e-mail address.")]
    )
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])


class NewPasswordForm(FlaskForm):
    """A new password, typed twice (a reset link's form)."""

    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired("Choose a new password."),
            Length(
                min=PASSWORD_MIN_LENGTH,
                max=PASSWORD_MAX_LENGTH,
                message=f"Use at least {PASSWORD_MIN_LENGTH} characters.",
            ),
        ],
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("new_password", "The two passwords differ."),
        ],
    )


class ChangePasswordForm(NewPasswordForm):
    """Change the password; other browsers are signed out."""

    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )


class ForgotPasswordForm(FlaskForm):
    """The e-mail address to send a password reset link to."""

    email = EmailField(
        "E-mail", filters=[strip], validators=[DataRequired("Enter your e-mail address.")]
    )


class DeleteAccountForm(FlaskForm):
    """Delete the account and all its data, confirmed with the password."""

    password = PasswordField(
        "Your password", validators=[DataRequired("Enter your password to confirm.")]
    )

    def __init__(self, *args, **kwargs) -> None:
        # The page also holds the password form: its own prefix keeps field ids apart.
        super().__init__(*args, prefix="delete", **kwargs)


class TimeZoneForm(FlaskForm):
    """The zone pages show times in and read typed times in."""

    time_zone = SelectField("Time zone", validate_choice=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = menu_zone_names()
        if self.time_zone.data not in names and zone_named(self.time_zone.data):
            names = (self.time_zone.data, *names)  # an alias the browser reported stays shown
        self.time_zone.choices = [(name, name.replace("_", " ")) for name in names]

    def validate_time_zone(self, field: SelectField) -> None:
        """Only a zone of the list: a typo would otherwise be stored and silently ignored."""
        if zone_named(field.data) is None:
            raise ValidationError("Choose a time zone from the list, like Europe/Paris.")
