"""The API's input rules report every field's error at once."""

from __future__ import annotations

import uuid

import pytest

from loyalty.domain.api_input import SEND_ONE_OF, InputError, customer_input, send_input


def test_a_customer_with_several_problems_gets_them_all_named():
    with pytest.raises(InputError) as caught:
        customer_input(
            {"externalCustomerId": 1, "name": "", "email": "x", "tags": "a", "colour": "red"}
        )
    assert caught.value.errors == {
        "colour": "Unknown field.",
        "externalCustomerId": "Expected a string.",
        "tags": "Expected a list of strings.",
        "name": "Missing.",
        "email": caught.value.errors["email"],
    }


def test_a_survey_goes_to_customers_or_a_segment_never_both():
    ids = [str(uuid.uuid4())]
    segment = str(uuid.uuid4())
    assert send_input({"customerIds": ids}) == ([uuid.UUID(ids[0])], None)
    assert send_input({"segmentId": segment}) == (None, uuid.UUID(segment))
    for neither_or_both in ({}, {"customerIds": ids, "segmentId": segment}):
        with pytest.raises(InputError) as caught:
            send_input(neither_or_both)
        assert caught.value.errors == {"": SEND_ONE_OF}
    with pytest.raises(InputError) as caught:
        send_input({"customerIds": ["x"], "extra": 1})
    assert set(caught.value.errors) == {"customerIds", "extra"}
