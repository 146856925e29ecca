"""The engagement event form: type, when, and details."""

from __future__ import annotations

import json
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

from loyalty.domain.api_input import DETAILS_KEY_MAX, DETAILS_MAX_KEYS, DETAILS_VALUE_MAX
from loyalty.domain.dates import check_event_date
from loyalty.domain.scoring import STANDARD_EVENT_TYPES, event_type_label, normalize_event_type
from loyalty.forms import Form
from loyalty.forms.auth import strip
from loyalty.time_zones import account_zone
from loyalty.types import utcnow

OTHER = "__other__"
DETAIL_ROWS = 3  # empty key/value rows offered for a new event (and at least one on an edit)


class DetailPair(Form):
    """One key/value pair of an event's details."""

    key = StringField("Key", filters=[strip], validators=[Optional(), Length(max=DETAILS_KEY_MAX)])
    value = StringField(
        "Value", filters=[strip], validators=[Optional(), Length(max=DETAILS_VALUE_MAX)]
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
        validators=[Optional(), Length(max=DETAILS_VALUE_MAX)],
        render_kw={"rows": 2, "placeholder": "What happened? (optional)"},
    )
    # As many as the API takes, so every event the API stored fits in its edit form.
    pairs = FieldList(FormField(DetailPair), min_entries=DETAIL_ROWS, max_entries=DETAILS_MAX_KEYS)

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
        """Dates before 1970 are typing mistakes; the future has not happened yet."""
        if not field.data:
            return
        if field.data.year < 1970:
            raise ValidationError("Enter a date from 1970 on.")
        try:
            check_event_date(field.data.replace(tzinfo=account_zone()), utcnow())
        except ValueError as error:
            raise ValidationError(str(error)) from error

    def validate_pairs(self, field: FieldList) -> None:
        """No more details than the API takes (the free text is one of them), and each its
        own name: a second pair of the same name, or one named "text" (the Details box),
        would silently replace the other."""
        names = [entry.form.key.data for entry in field.entries if entry.form.key.data]
        if "text" in names:
            raise ValidationError('"text" is the Details box above: give this one another name.')
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValidationError(f'Each detail needs a name of its own: "{repeated[0]}" is twice.')
        if len(names) + (1 if self.text.data else 0) > DETAILS_MAX_KEYS:
            raise ValidationError(f"At most {DETAILS_MAX_KEYS} details, the text included.")

    def chosen_type(self) -> str:
        """The event type, standard or custom."""
        if self.event_type.data == OTHER:
            return normalize_event_type(self.custom_type.data or "")
        return self.event_type.data

    def moment(self, stored: datetime | None = None) -> datetime:
        """When it happened, in UTC; on an edit, the `stored` moment to the second when the
        shown minute was left as it was."""
        if stored is not None and _local(stored) == self.event_date.data:
            return stored
        return self.event_date.data.replace(tzinfo=account_zone()).astimezone(UTC)

    def details(self, stored: dict | None = None) -> dict:
        """Free text and key/value pairs, as stored in the details JSON.

        On an edit, a value sent back as it was shown keeps its `stored` value and JSON type
        (a number stays a number, true stays true); a value typed is text."""
        stored = stored or {}
        names = {key.strip(): key for key in stored}  # typed names lose their spaces
        details: dict = {}
        text = self.text.data or ""
        if text or _unchanged(stored, "text", text):
            details["text"] = _kept(stored, "text", text)
        for pair in self.pairs.entries:
            key = pair.form.key.data
            if key:
                key = key if key in stored else names.get(key, key)
                details[key] = _kept(stored, key, pair.form.value.data or "")
        return details

    def fill_from(self, event_type: str, event_date: datetime, details: dict) -> None:
        """Show a stored event in the form: a row for every detail, and one empty row."""
        if event_type in STANDARD_EVENT_TYPES:
            self.event_type.data = event_type
        else:
            self.event_type.data = OTHER
            self.custom_type.data = event_type
        self.event_date.data = _local(event_date)
        self.text.data = _shown(details.get("text"))
        pairs = [(k, v) for k, v in details.items() if k != "text"][: self.pairs.max_entries]
        rows = min(max(DETAIL_ROWS, len(pairs) + 1), self.pairs.max_entries)
        while len(self.pairs.entries) < rows:
            self.pairs.append_entry()
        for entry, (key, value) in zip(self.pairs.entries, pairs, strict=False):
            entry.form.key.data = key
            entry.form.value.data = _shown(value)


def _local(moment: datetime) -> datetime:
    """A moment as the account's wall-clock time, to the minute (what the input shows)."""
    return moment.astimezone(account_zone()).replace(tzinfo=None, second=0, microsecond=0)


def _shown(value: object) -> str:
    """A stored detail value as its input shows it: text as it is, nothing as empty, any
    other JSON value (number, true/false) as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _unchanged(stored: dict, key: str, sent: str) -> bool:
    """Whether `sent` is what a browser sends back for the stored value left as shown (inputs
    drop line breaks, text areas send them as CRLF, and the form strips spaces)."""
    if key not in stored:
        return False

    def comparable(text: str) -> str:
        return text.replace("\r", "").replace("\n", "").strip()

    return comparable(_shown(stored[key])) == comparable(sent)


def _kept(stored: dict, key: str, sent: str) -> object:
    """The stored value when it came back unchanged, else what was typed."""
    return stored[key] if _unchanged(stored, key, sent) else sent
