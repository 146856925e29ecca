"""an account's survey answers by date

The dashboard shows the latest comments: with answers indexed by account and date, the
query reads the newest few instead of sorting every answer of the account.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 22:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_survey_responses_user_submitted", "survey_responses", ["user_id", "submitted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_survey_responses_user_submitted", table_name="survey_responses")
