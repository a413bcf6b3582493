"""Callback headers (callbacks/signing.py): the documented X-Callback-* ones, and the Standard Webhooks ones that
the `standardwebhooks` library verifies with the secret given as "whsec_" + the account's base64 secret."""

from __future__ import annotations

import base64
import json
import time

import pytest
import standardwebhooks

from runapi.auth.tokens import new_callback_secret
from runapi.callbacks import signing
from tests.e2e.test_callbacks import verify_callback

BODY = json.dumps({"id": "t1", "status": "completed", "model": "nano-banana", "images": [{"url": "https://x/é.png"}]})


def test_standard_webhooks_library_verifies_and_documented_check_still_holds():
    secret = new_callback_secret()
    now = int(time.time())
    hdrs = signing.headers(secret, "cb-1", now, BODY)
    assert hdrs["webhook-id"] == hdrs["X-Callback-Id"] == "cb-1"
    assert hdrs["webhook-timestamp"] == hdrs["X-Callback-Timestamp"] == str(now)
    assert hdrs["webhook-signature"] == "v1," + hdrs["X-Callback-Signature"]
    assert verify_callback(hdrs, BODY, secret)  # the docs' own check, unchanged
    for key in (signing.standard_secret(secret), secret):  # with or without the prefix, the library decodes it
        assert standardwebhooks.Webhook(key).verify(BODY.encode(), hdrs) == json.loads(BODY)
    wh = standardwebhooks.Webhook(signing.standard_secret(secret))
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        wh.verify(BODY.replace("completed", "failed").encode(), hdrs)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(signing.standard_secret(new_callback_secret())).verify(BODY.encode(), hdrs)
    with pytest.raises(standardwebhooks.WebhookVerificationError):  # the id is signed too
        wh.verify(BODY.encode(), {**hdrs, "webhook-id": "cb-2"})


def test_the_library_signs_exactly_as_we_do():
    secret = base64.b64encode(b"k" * 32).decode()
    from datetime import UTC, datetime

    wh = standardwebhooks.Webhook(signing.standard_secret(secret))
    ours = signing.headers(secret, "msg_1", 1_700_000_000, BODY)["webhook-signature"]
    assert wh.sign("msg_1", datetime.fromtimestamp(1_700_000_000, UTC), BODY) == ours
