"""The console's rate-limit fields: form text read into what the API's JSON would carry (the API's own check,
api/management.opt_rate, then decides), and the short display of a key's, guardrail's or account's limits."""

import pytest
from starlette.datastructures import FormData

from runapi.api import keys as keys_api
from runapi.auth.keys import ApiKey
from runapi.console import inputs
from runapi.console.templating import rate_values, rates
from runapi.errors import ApiError, InvalidInput


def test_blank_is_no_limit_digits_an_integer_and_other_text_passes_through_to_the_api_check():
    data = FormData([("rpm_limit", " 60 "), ("tpm_limit", ""), ("max_parallel_requests", "-3")])
    assert inputs.rate_limits(data) == {"rpm_limit": 60, "tpm_limit": None, "max_parallel_requests": "-3"}
    with pytest.raises(ApiError) as refused:
        keys_api.key_fields(inputs.rate_limits(data))
    assert refused.value.status == 422
    assert refused.value.message == "max_parallel_requests must be a positive integer (or null for no limit)"
    assert inputs.rate(FormData([("rpm_limit", "٣")]), "rpm_limit") == "٣"  # not ASCII digits: the API refuses it


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "rpm_limit must be a positive integer (or null for no limit)"),
        ("1e3", "rpm_limit must be a positive integer (or null for no limit)"),
        ("2147483648", "rpm_limit must be at most 2147483647"),
        ("9" * 40, "rpm_limit must be at most 2147483647"),
    ],
)
def test_the_api_check_refuses_what_the_form_carried(typed, message):
    with pytest.raises(ApiError) as refused:
        keys_api.key_fields(inputs.rate_limits(FormData([("rpm_limit", typed)])))
    assert refused.value.message == message


def test_a_huge_value_is_refused_before_it_is_parsed():
    with pytest.raises(InvalidInput, match="tpm_limit must be at most 40 characters"):
        inputs.rate(FormData([("tpm_limit", "9" * 5000)]), "tpm_limit")


def test_limits_shown_in_short():
    key = ApiKey(
        id="k", account_id=1, membership_id="m", kind="api", name=None, masked="rk-…", enabled=True,
        credit_limit_cents=None, credit_limit_reset_interval=None, allowed_models=None, limits_set_by=None,
        disabled_by=None, created_at=0.0, last_used_at=None, rpm_limit=60, tpm_limit=10_000,
    )  # fmt: skip
    assert rates(key) == "60 rpm · 10,000 tpm"
    assert rate_values(key) == {"rpm_limit": "60", "tpm_limit": "10000"}
    assert rates({"rpm_limit": None, "tpm_limit": None, "max_parallel_requests": 4}) == "4 in flight"
    assert rates({}) == ""
