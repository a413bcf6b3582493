"""The pure parts of the key, guardrail and file services (no server): rows become frozen objects, and the
rules for who owns a key's limits refuse with domain errors (the edge maps them to 403/422)."""

import dataclasses

import pytest

from runapi.auth.keys import ApiKey, initial_settings, ownership
from runapi.auth.principal import Principal
from runapi.errors import Forbidden, InvalidInput
from runapi.policy.guardrail_store import Guardrail, check_limits
from runapi.storage.files_store import StoredFile


def who(role: str = "member", membership_id: str = "member_me") -> Principal:
    return Principal(
        key_id="mgmt_x",
        account_id=1,
        membership_id=membership_id,
        user_id=1,
        role=role,
        kind="management",
        allowed_models=None,
        credit_limit_cents=None,
        credit_limit_reset_interval=None,
    )


def key(**over) -> ApiKey:
    row = {
        "id": "token_1",
        "account_id": 1,
        "membership_id": "member_me",
        "kind": "api",
        "name": "k",
        "masked": "rk-…abcd",
        "enabled": True,
        "credit_limit_cents": None,
        "credit_limit_reset_interval": None,
        "allowed_models": None,
        "limits_set_by": None,
        "disabled_by": None,
        "created_at": 1.0,
        "last_used_at": None,
        **over,
    }
    return ApiKey.from_row(row)


def test_api_key_from_row_is_frozen_with_tuples():
    k = key(allowed_models=["a", "b"], enabled=1)
    assert k.allowed_models == ("a", "b") and k.enabled is True and k.guardrail_id is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        k.name = "other"  # type: ignore[misc]


def test_member_cannot_undo_what_an_admin_set():
    admin_limited = key(credit_limit_cents=5, credit_limit_reset_interval="daily", limits_set_by="member_admin")
    with pytest.raises(Forbidden, match="Only an account admin can change the limits"):
        ownership(who(), admin_limited, {"credit_limit_cents": None})
    admin_disabled = key(enabled=False, disabled_by="member_admin")
    with pytest.raises(Forbidden, match="Only an account admin can re-enable"):
        ownership(who(), admin_disabled, {"enabled": True})
    # tightening is always allowed, and keeps the admin's disabling
    assert ownership(who(), admin_disabled, {"enabled": False}) == {}
    assert ownership(who(), key(), {"enabled": False}) == {"disabled_by": "member_me"}


def test_admin_lifting_every_limit_frees_the_key():
    limited = key(credit_limit_cents=5, credit_limit_reset_interval="daily", limits_set_by="member_me")
    assert ownership(who("admin", "member_admin"), limited, {"credit_limit_cents": None}) == {"limits_set_by": None}
    assert ownership(who("admin", "member_admin"), limited, {"allowed_models": ["m"]}) == {
        "limits_set_by": "member_admin"
    }


def test_initial_settings():
    with pytest.raises(InvalidInput, match="credit_limit_reset_interval is required"):
        initial_settings(who(), {"credit_limit_cents": 3})
    s = initial_settings(who(), {"credit_limit_cents": 3, "credit_limit_reset_interval": "weekly", "enabled": False})
    assert (s["limits_set_by"], s["disabled_by"], s["enabled"]) == ("member_me", "member_me", False)
    s = initial_settings(who(), {"credit_limit_reset_interval": "weekly"})  # no amount: no window
    assert s["credit_limit_reset_interval"] is None and s["limits_set_by"] is None and s["disabled_by"] is None


def test_guardrail_limits_come_in_pairs():
    with pytest.raises(InvalidInput, match="credit_limit_cents is required"):
        check_limits(None, "daily")
    with pytest.raises(InvalidInput, match="credit_limit_reset_interval is required"):
        check_limits(5, None)
    check_limits(None, None)
    check_limits(5, "monthly")


def test_guardrail_and_file_rows():
    g = Guardrail.from_row(
        {
            "id": "guardrail_1",
            "account_id": 1,
            "created_by": "member_me",
            "name": "g",
            "description": None,
            "enabled": 0,
            "credit_limit_cents": None,
            "credit_limit_reset_interval": None,
            "allowed_models": ["m"],
            "blocked_models": [],
            "allowed_providers": None,
            "blocked_providers": None,
            "model_budgets": [{"match_mode": "include", "models": ["m"]}],
            "created_at": 1.0,
            "updated_at": 2.0,
        }
    )
    assert g.enabled is False and g.allowed_models == ("m",) and g.blocked_models is None
    assert g.model_budgets == ({"match_mode": "include", "models": ["m"]},)
    f = StoredFile.from_row(
        {
            "id": "file_1",
            "account_id": 1,
            "api_key_id": None,
            "key": None,
            "file_name": "a",
            "size_bytes": 3,
            "mime_type": None,
            "state": "pending",
            "created_at": 1.0,
            "expires_at": 2.0,
        }
    )
    assert f.checksum is None and f.state == "pending"
