"""GET /api/v1/tasks over HTTP: an API key's tasks with their status bodies, filters, pages both ways, clear
422s for bad filters; and GET /api/v1/<family>/<id>, the same body as the action's status endpoint."""

from tests.support.servers import new_account, wait_done

T2I = "/api/v1/nano_banana/text_to_image"
EDIT = "/api/v1/nano_banana/edit_image"


def test_list_filter_and_page(server):
    _, key = new_account(server, credits=10_000)
    with server.client(key) as api:
        made = []
        for model in ("nano-banana", "nano-banana-2", "nano-banana"):
            resp = api.post(T2I, json={"model": model, "prompt": "a cat"})
            assert resp.status_code == 202, resp.text
            made.append(resp.json()["id"])
        done = [wait_done(api, T2I, task_id) for task_id in made]
        listed = api.get("/api/v1/tasks")
        assert listed.status_code == 200, listed.text
        page = listed.json()
        assert page["object"] == "list" and not page["has_more"]
        assert [t["id"] for t in page["data"]] == made[::-1]
        assert (page["first_id"], page["last_id"]) == (made[-1], made[0])
        item = page["data"][-1]
        status = {k: v for k, v in item.items() if k not in ("family", "action", "created", "created_at")}
        status.pop("completed_at"), status.pop("cost_cents")
        assert status == done[0]  # the item is the status body plus its listing fields
        assert (item["family"], item["action"], item["status"]) == ("nano_banana", "text_to_image", "completed")
        assert item["cost_cents"] > 0 and item["completed_at"] and item["created_at"]

        def ids(query: str) -> list[str]:
            resp = api.get(f"/api/v1/tasks?{query}")
            assert resp.status_code == 200, resp.text
            return [t["id"] for t in resp.json()["data"]]

        assert ids("model=nano-banana-2") == [made[1]]
        assert ids("family=nano_banana&action=text_to_image&status=completed") == made[::-1]
        assert ids("status=processing") == [] and ids("action=edit_image") == []
        assert ids(f"created_after={int(page['data'][0]['created']) + 1}") == []
        first = api.get("/api/v1/tasks?limit=2").json()
        assert [t["id"] for t in first["data"]] == made[:0:-1] and first["has_more"]
        rest = api.get(f"/api/v1/tasks?limit=2&after={first['last_id']}").json()
        assert [t["id"] for t in rest["data"]] == [made[0]] and not rest["has_more"]
        back = api.get(f"/api/v1/tasks?limit=2&before={rest['first_id']}").json()
        assert [t["id"] for t in back["data"]] == made[:0:-1]
        assert ids("order=asc&limit=2") == made[:2]
        for query, message in (
            ("status=queued", "Invalid value for status"),
            ("limit=101", "limit must be an integer"),
            ("created_after=yesterday", "created_after must be a unix time"),
            ("after=nope", "Invalid value for after"),
            ("order=up", "Invalid value for order"),
        ):
            resp = api.get(f"/api/v1/tasks?{query}")
            assert resp.status_code == 422 and message in resp.json()["error"], (query, resp.text)


def test_another_account_sees_none_of_them(server):
    _, key = new_account(server, credits=1_000)
    _, other = new_account(server, credits=1_000)
    with server.client(key) as api, server.client(other) as them:
        task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "a dog"}).json()["id"]
        assert them.get("/api/v1/tasks").json()["data"] == []
        assert them.get(f"/api/v1/nano_banana/{task_id}").status_code == 404
        assert api.get(f"/api/v1/tasks?after={task_id}").status_code == 200
        assert them.get(f"/api/v1/tasks?after={task_id}").status_code == 422


def test_family_level_get_equals_the_action_level_get(server):
    _, key = new_account(server, credits=1_000)
    with server.client(key) as api:
        task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "a fox"}).json()["id"]
        done = wait_done(api, T2I, task_id)
        resp = api.get(f"/api/v1/nano_banana/{task_id}")
        assert resp.status_code == 200 and resp.json() == done
        assert resp.headers["X-RunAPI-Task-Id"] == task_id
        missing = api.get(f"/api/v1/kling/{task_id}")  # another family: not found
        assert missing.status_code == 404 and missing.json()["error"] == "Task not found"
        # an action's own path is no task id: the create route still answers there (GET is not allowed)
        assert api.get(T2I).status_code == 405
        assert api.get(f"{EDIT}/{task_id}").status_code == 404
