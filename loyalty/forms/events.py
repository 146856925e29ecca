"""The engagement event form: type, when, and details."""

from __future__ import annotations

from datetime import UTC, datetime

from wtforms import (
    DateTimeLocalField,
    FieldList,
    FormField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from loyalty.domain.scoring import STANDARD_EVENT_TYPES, event_type_label, normalize_event_type
from loyalty.forms import Form
from loyalty.forms.auth import strip
from loyalty.time_zones import account_zone
from loyalty.types import utcnow

OTHER = "__other__"
DETAIL_ROWS = 3
DETAIL_KEY_MAX = 50
DETAIL_VALUE_MAX = 500
DETAIL_TEXT_MAX = 2000


class DetailPair(Form):
    """One key/value pair of an event's details."""

    key = StringField("Key", filters=[strip], validators=[Optional(), Length(max=DETAIL_KEY_MAX)])
    value = StringField(
        "Value", filters=[strip], validators=[Optional(), Length(max=DETAIL_VALUE_MAX)]
    )


class EventForm(Form):
    """Log or correct an engagement event."""

    event_type = SelectField(
        "Event type",
        choices=[SelectChoice(t, event_type_label(t)) for t in STANDARD_EVENT_TYPES]
        + [SelectChoice(OTHER, "Other…")],
        default="login",
    )
    # No Optional(): it would stop the checks before validate_custom_type, which needs to see
    # an empty custom type when "Other" is chosen.
    custom_type = StringField("Custom type", filters=[strip], validators=[Length(max=50)])
    # Typed and shown in the account's time zone (the label names it); stored in UTC.
    event_date = DateTimeLocalField(
        "When",
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[DataRequired("Enter a date and time, like 2026-11-24 14:30.")],
        default=lambda: _local(utcnow()),
    )
    text = TextAreaField(
        "Details",
        filters=[strip],
        validators=[Optional(), Length(max=DETAIL_TEXT_MAX)],
        render_kw={"rows": 2, "placeholder": "What happened? (optional)"},
    )
    pairs = FieldList(FormField(DetailPair), min_entries=DETAIL_ROWS, max_entries=10)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.event_date.label.text = f"When ({account_zone().key.replace('_', ' ')} time)"

    def validate_custom_type(self, field: StringField) -> None:
        """A custom type is needed when "Other" is chosen, and must be a clean name."""
        if self.event_type.data != OTHER:
            return
        try:
            normalize_event_type(field.data or "")
        except ValueError as error:
            raise ValidationError(str(error)) from error

    def validate_event_date(self, field: DateTimeLocalField) -> None:
        """Dates outside a believable range are typing mistakes."""
        if field.data and not (1970 <= field.data.year <= 2100):
            raise ValidationError("Enter a date between 1970 and 2100.")

    def chosen_type(self) -> str:
        """The event type, standard or custom."""
        if self.event_type.data == OTHER:
            return normalize_event_type(self.custom_type.data or "")
        return self.event_type.data

    def moment(self) -> datetime:
        """When it happened, in UTC."""
        return self.event_date.data.replace(tzinfo=account_zone()).astimezone(UTC)

    def details(self) -> dict:
        """Free text and key/value pairs, as stored in the details JSON."""
        details: dict = {}
        if self.text.data:
            details["text"] = self.text.data
        for pair in self.pairs.entries:
            key, value = pair.form.key.data, pair.form.value.data
            if key:
                details[key] = value or ""
        return details

    def fill_from(self, event_type: str, event_date: datetime, details: dict) -> None:
        """Show a stored event in the form."""
        if event_type in STANDARD_EVENT_TYPES:
            self.event_type.data = event_type
        else:
            self.event_type.data = OTHER
            self.custom_type.data = event_type
        self.event_date.data = _local(event_date)
        self.text.data = str(details.get("text", ""))
        pairs = [(k, v) for k, v in details.items() if k != "text"][: self.pairs.max_entries]
        while len(self.pairs.entries) < len(pairs):
            self.pairs.append_entry()
        for entry, (key, value) in zip(self.pairs.entries, pairs, strict=False):
            entry.form.key.data = key
            entry.form.value.data = value if isinstance(value, str) else str(value)


def _local(moment: datetime) -> datetime:
    """A moment as the account's wall-clock time, to the minute (what the input shows)."""
    return moment.astimezone(account_zone()).replace(tzinfo=None, second=0, microsecond=0)
