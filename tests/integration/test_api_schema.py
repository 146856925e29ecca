"""The API against its own OpenAPI document: generated requests, no server errors, no drift."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from loyalty.extensions import db
from loyalty.services import tokens
from tests import factories


@pytest.fixture
def bearer(app, user):
    with app.app_context():
        # A couple of real rows, so lists and lookups are not all empty.
        factories.make_customer(db.session, user, external_customer_id="cus_1")
        _row, secret = tokens.create_token(db.session, user.id, "schemathesis")
        db.session.commit()
    return secret


def test_every_operation_keeps_its_promises(app, bearer):
    """Schemathesis generates requests for every operation from /api/openapi.json: none may
    answer 5xx, and every answer must match the document (status, content type, schema)."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    statuses: set[int] = set()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {bearer}"},
                # Business rules go beyond what a schema can say (years 1970-2100, unique
                # externalCustomerId): a 422 for schema-valid data is expected, not a defect.
                excluded_checks=[positive_data_acceptance],
            )
            statuses.add(response.status_code)

        check()
    # The token worked: the generated requests reached the code, not just the 401 gate.
    assert {200, 201, 404, 422} <= statuses, statuses


def test_the_document_is_served_and_readable(client):
    document = client.get("/api/openapi.json").json
    assert document["openapi"] == "3.1.0"
    assert "/api/events" in document["paths"]
    assert "externalCustomerId" in document["components"]["schemas"]["CustomerInput"]["properties"]
    assert "churnRiskStartingScore" in document["components"]["schemas"]["Customer"]["properties"]
    for path, methods in {
        "/api/events/{eventId}": {"get", "put", "patch", "delete"},
        "/api/surveys/{surveyId}/send": {"post"},
        "/api/surveys/{surveyId}/invitations": {"get"},
        "/api/invitations/{invitationId}": {"get"},
        "/api/invitations/{invitationId}/revoke": {"post"},
    }.items():
        assert methods <= set(document["paths"][path]), path
    statuses = document["components"]["schemas"]["Invitation"]["properties"]["status"]["enum"]
    assert set(statuses) == {"open", "answered", "expired", "revoked"}
    page = client.get("/api/docs").text
    assert "/api/customers/{customerId}/events" in page
    assert "/api/surveys/{surveyId}/send" in page


def test_the_document_lists_every_api_route(app, client):
    """A route missing from the document is one schemathesis never calls."""
    documented = {
        (path, method.upper())
        for path, item in client.get("/api/openapi.json").json["paths"].items()
        for method in item
        if method != "parameters"
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in (
            "api.openapi_document",
            "api.docs",
        ):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<uuid:{name}>", "{" + _camel(name) + "}")
        routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed - documented == set()
    assert documented - routed == set()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
