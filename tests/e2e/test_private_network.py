"""With the default settings the server will not call loopback/private addresses for inputs or callbacks."""

import time

from tests.support.servers import wait_done


def test_inputs_and_callbacks_on_loopback_are_refused(strict_server, recorder):
    host = recorder()
    with strict_server.client() as api:
        task_id = api.post(
            "/api/v1/nano_banana/edit_image",
            json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [f"{host.url}/a.png"]},
        ).json()["id"]
        done = wait_done(api, "/api/v1/nano_banana/edit_image", task_id)
        assert done["status"] == "failed" and done["error"] == "Failed to fetch the image"
        # a callback that would never be delivered is refused when the task is created (tests/e2e/test_newcomer.py)
        refused = api.post(
            "/api/v1/nano_banana/text_to_image",
            json={"model": "nano-banana", "prompt": "x", "callback_url": f"{host.url}/cb"},
        )
        assert refused.status_code == 422 and "RUNAPI_ALLOW_PRIVATE_NETWORK" in refused.json()["error"]
        time.sleep(0.5)
    assert host.requests == []  # neither the fetch nor the callback reached it
