"""Segment forms."""

from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from loyalty.forms import Form
from loyalty.forms.auth import strip

SEGMENT_NAME_MAX = 100
SEGMENT_DESCRIPTION_MAX = 1000


class SegmentForm(Form):
    """Name and describe a segment."""

    name = StringField(
        "Name",
        filters=[strip],
        validators=[
            DataRequired("Give the segment a name."),
            Length(max=SEGMENT_NAME_MAX, message=f"At most {SEGMENT_NAME_MAX} characters."),
        ],
    )
    description = TextAreaField(
        "Description",
        filters=[strip],
        validators=[
            Optional(),
            Length(
                max=SEGMENT_DESCRIPTION_MAX,
                message=f"At most {SEGMENT_DESCRIPTION_MAX} characters.",
            ),
        ],
    )
