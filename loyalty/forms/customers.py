"""The customer form: add, edit, and the inline row edit."""

from __future__ import annotations

from datetime import UTC, datetime, time

from wtforms import DateField, EmailField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from loyalty.domain import importing
from loyalty.forms import Form
from loyalty.forms.auth import strip
from loyalty.services.customers import CustomerFields, normalize_tags
from loyalty.time_zones import account_zone
from loyalty.types import utcnow

# One set of rules for forms, imports and the API: loyalty/domain/importing.py.
EXTERNAL_ID_MAX = importing.MAX_FIELD_LENGTHS["external_customer_id"]
NAME_MAX = importing.MAX_FIELD_LENGTHS["name"]
EMAIL_MAX = importing.MAX_FIELD_LENGTHS["email"]


def split_tags(text: str | None) -> tuple[str, ...]:
    """'vip, trial;beta' -> ('beta', 'trial', 'vip')."""
    if not text:
        return ()
    return normalize_tags(text.replace(";", ",").split(","))


class CustomerForm(Form):
    """Who the customer is; their risk and engagement come from events, not from here."""

    external_customer_id = StringField(
        "External ID",
        filters=[strip],
        validators=[
            DataRequired("Enter the customer's ID in your billing or CRM system."),
            Length(max=EXTERNAL_ID_MAX, message=f"At most {EXTERNAL_ID_MAX} characters."),
        ],
    )
    name = StringField(
        "Name",
        filters=[strip],
        validators=[
            DataRequired("Enter the customer's name."),
            Length(max=NAME_MAX, message=f"At most {NAME_MAX} characters."),
        ],
    )
    email = EmailField(
        "E-mail",
        filters=[strip],
        validators=[
            DataRequired("Enter the customer's e-mail address."),
            Length(max=EMAIL_MAX),
        ],
    )
    signup_date = DateField(
        "Signup date",
        validators=[DataRequired("Enter a date, like 2026-03-31.")],
        render_kw={"max": "2100-12-31"},
        # A new customer most often signed up today: the account's today, not UTC's.
        default=lambda: utcnow().astimezone(account_zone()).date(),
    )
    tags = StringField(
        "Tags",
        filters=[strip],
        validators=[Optional()],
        description="Separate with commas, e.g. vip, trial",
    )
    version = HiddenField()

    def validate_signup_date(self, field: DateField) -> None:
        """Signup dates in the far past or future are typing mistakes."""
        if field.data and not (1970 <= field.data.year <= 2100):
            raise ValidationError("Enter a date between 1970 and 2100.")

    def validate_email(self, field: EmailField) -> None:
        """The same e-mail rule as imports and the API."""
        try:
            importing.normalize_email(field.data or "")
        except ValueError:
            raise ValidationError("Enter a valid e-mail address, like name@example.com.") from None

    def validate_tags(self, field: StringField) -> None:
        """The same tag rules as imports and the API (short words, a handful at most)."""
        try:
            importing.parse_tags((field.data or "").replace(";", ","))
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def customer_fields(self) -> CustomerFields:
        """The validated values, ready for the customer service."""
        return CustomerFields(
            external_customer_id=self.external_customer_id.data,
            name=self.name.data,
            email=self.email.data.lower() if self.email.data else "",
            signup_date=datetime.combine(self.signup_date.data, time(0), tzinfo=UTC),
            tags=split_tags(self.tags.data),
        )

    def expected_version(self) -> int | None:
        """The version the editor started from, if the form carried one."""
        try:
            return int(self.version.data) if self.version.data else None
        except ValueError:
            return None
