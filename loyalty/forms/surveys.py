"""Survey forms."""

from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from loyalty.domain.surveys import DEFAULT_QUESTIONS, KINDS
from loyalty.forms import Form
from loyalty.forms.auth import strip
from loyalty.services.surveys import SurveyFields

TITLE_MAX = 200
DESCRIPTION_MAX = 2000
QUESTION_MAX = 500


class SurveyForm(Form):
    """Title, kind and wording of a survey."""

    title = StringField(
        "Title",
        filters=[strip],
        validators=[
            DataRequired("Give the survey a title."),
            Length(max=TITLE_MAX, message=f"At most {TITLE_MAX} characters."),
        ],
    )
    kind = SelectField(
        "Kind", choices=[SelectChoice(key, label) for key, label in KINDS.items()], default="nps"
    )
    question = StringField(
        "Question",
        filters=[strip],
        validators=[
            Optional(),
            Length(max=QUESTION_MAX, message=f"At most {QUESTION_MAX} characters."),
        ],
    )
    description = TextAreaField(
        "Description",
        filters=[strip],
        validators=[
            Optional(),
            Length(max=DESCRIPTION_MAX, message=f"At most {DESCRIPTION_MAX} characters."),
        ],
        render_kw={"rows": 2},
    )

    def survey_fields(self) -> SurveyFields:
        """The validated values; an empty question takes the kind's usual wording."""
        return SurveyFields(
            title=self.title.data,
            description=self.description.data or "",
            kind=self.kind.data,
            question=self.question.data or DEFAULT_QUESTIONS[self.kind.data],
        )
