"""The client CLI's grammar after the platform CLI (runapi-ai/cli): global flags in either position,
durations, credentials' precedence, --input merging, exit codes, and the refusals that happen before any
request (no network here: every case fails or finishes before a request would be sent)."""

import json

import click
import pytest
from click.testing import CliRunner

from runapi.cli import exit_codes, main
from runapi.cli.client import (
    CliFailure,
    Globals,
    credentials,
    global_options,
    globals_of,
    merge_input,
    parse_duration,
    read_input,
)
from runapi.cli.listen_cmd import normalize_forward_url


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (200, 0),
        (202, 0),
        (401, 2),
        (402, 3),
        (400, 4),
        (404, 4),
        (409, 4),
        (413, 4),
        (422, 4),
        (408, 5),
        (429, 6),
        (403, 1),
        (500, 1),
        (502, 1),
        (503, 1),
    ],
)
def test_exit_code_for_an_http_status(status, code):
    assert exit_codes.for_http_status(status) == code


@pytest.mark.parametrize(
    ("status", "phase", "code"),
    [
        ("completed", "completed", 0),
        ("SUCCESS", "completed", 0),
        ("failed", "failed", 7),
        ("generate_failed", "failed", 7),
        ("processing", "processing", 0),
        ("queued", "processing", 0),
        (None, "processing", 0),
    ],
)
def test_task_status_phases_and_exit_codes(status, phase, code):
    assert exit_codes.task_phase(status) == phase
    assert exit_codes.for_task_status(status) == code


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("2m", 120), ("1h30m", 5400), ("500ms", 0.5), ("2m30s", 150), ("15", 15), ("0.25", 0.25)],
)
def test_durations_read_as_go_durations_or_seconds(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "0", "0s", "-1s", "abc", "5d", "25h", "1e3", "s"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_input_inline_file_and_stdin(tmp_path, monkeypatch):
    assert read_input(None, None) == {}
    assert read_input('{"prompt": "hi"}', None) == {"prompt": "hi"}
    path = tmp_path / "req.json"
    path.write_text('{"prompt": "from file", "n": 2}')
    assert read_input(None, str(path)) == {"prompt": "from file", "n": 2}
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO('{"prompt": "stdin"}'))
    assert read_input(None, "-") == {"prompt": "stdin"}


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ('{"a": 1}', "x.json", "--input and --input-file are mutually exclusive"),
        ("{nope", None, "--input must be valid JSON"),
        ("[1, 2]", None, "--input must be a JSON object"),
        (None, "/no/such/file.json", "cannot read --input-file"),
    ],
)
def test_bad_input_is_a_usage_failure(raw, path, message):
    with pytest.raises(CliFailure) as failed:
        read_input(raw, path)
    assert failed.value.code == exit_codes.VALIDATION and message in failed.value.message
    assert failed.value.body == {"error": failed.value.message}


def test_flags_override_the_input_payload():
    payload = {"prompt": "from input", "aspect_ratio": "1:1", "model": "nano-banana"}
    flags = {"prompt": "from flag", "aspect_ratio": None, "reference_image_urls": (), "seed": 0}
    assert merge_input(payload, flags) == {
        "prompt": "from flag",
        "aspect_ratio": "1:1",
        "model": "nano-banana",
        "seed": 0,
    }


def _probe_group():
    """A root group and leaf command wired like `runapi`'s, the leaf printing the flags it ends up with."""

    @click.group()
    @global_options
    def root():
        pass

    @root.command()
    @global_options
    def leaf():
        g = globals_of()
        click.echo(json.dumps(g.__dict__))

    return root


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], Globals().__dict__),
        (["--api-key", "k1", "leaf"], {**Globals().__dict__, "api_key": "k1"}),
        (
            ["leaf", "--api-key", "k2", "--quiet", "--async"],
            {**Globals().__dict__, "api_key": "k2", "quiet": True, "async_": True},
        ),
        (
            ["--api-key", "k1", "--timeout", "90s", "leaf", "--api-key", "k2"],
            {**Globals().__dict__, "api_key": "k2", "timeout": 90.0},
        ),
        (
            ["leaf", "--poll-interval", "500ms", "--base-url", "http://h:1"],
            {**Globals().__dict__, "poll_interval": 0.5, "base_url": "http://h:1"},
        ),
    ],
)
def test_global_flags_before_or_after_the_command(args, expected):
    result = CliRunner().invoke(_probe_group(), args or ["leaf"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected


def test_credentials_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNAPI_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    monkeypatch.delenv("RUNAPI_BASE_URL", raising=False)
    (tmp_path / "config.json").write_text(json.dumps({"api_key": "saved", "base_url": "http://saved:1"}))

    def resolved(args):
        @click.command()
        @global_options
        def show():
            click.echo(json.dumps(credentials()))

        return json.loads(CliRunner().invoke(show, args).stdout)

    assert resolved([]) == ["saved", "http://saved:1"]
    monkeypatch.setenv("RUNAPI_API_KEY", "env")
    monkeypatch.setenv("RUNAPI_BASE_URL", "http://env:2/")
    assert resolved([]) == ["env", "http://env:2"]
    assert resolved(["--api-key", "flag", "--base-url", "http://flag:3"]) == ["flag", "http://flag:3"]


def _run(args, env=None):
    return CliRunner(env={"RUNAPI_API_KEY": "rk-unit", "RUNAPI_BASE_URL": "http://127.0.0.1:9", **(env or {})}).invoke(
        main, args
    )


def test_no_api_key_exits_2(tmp_path):
    result = _run(["account", "balance"], env={"RUNAPI_API_KEY": "", "RUNAPI_CONFIG_DIR": str(tmp_path)})
    assert result.exit_code == exit_codes.AUTH
    assert "no API key" in json.loads(result.stdout)["error"] and "no API key" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get", "abc"], "--service and --action are required"),
        (["wait", "abc", "--service", "nano-banana"], "--service and --action are required"),
        (["get", "abc", "--service", "nope", "--action", "text-to-image"], "unsupported service/action"),
        (["nano-banana", "text-to-image", "--input", "[1]"], "--input must be a JSON object"),
        (["nano-banana", "text-to-image", "--input", "{}", "--input-file", "x"], "mutually exclusive"),
        (["files", "create"], "exactly one source is required"),
        (["files", "create", "a.png", "--url", "https://x/a.png"], "exactly one source is required"),
        (
            ["pricing", "quote", "--service", "s", "--action", "a", "--params", "{}", "--params-file", "p"],
            "--params and --params-file are mutually exclusive",
        ),
        (["listen", "localhost:1", "--forward-to", "localhost:2"], "mutually exclusive"),
    ],
)
def test_usage_refusals_exit_4_with_json(args, message):
    result = _run(args)
    assert result.exit_code == exit_codes.VALIDATION, result.output
    assert message in json.loads(result.stdout)["error"]


@pytest.mark.parametrize(
    "args",
    [
        ["--timeout", "soon", "account", "balance"],
        ["nano-banana", "text-to-image", "--aspect-ratio", "7:5"],
        ["files", "list", "--limit", "0"],
        ["get"],
        ["no-such-command"],
    ],
)
def test_click_usage_errors_exit_4_not_2(args):
    result = _run(args)
    assert result.exit_code == exit_codes.VALIDATION, result.output


def test_quiet_silences_the_error_line_but_not_the_json():
    result = _run(["--quiet", "get", "abc"])
    assert result.exit_code == 4 and result.stderr == ""
    assert json.loads(result.stdout)["error"] == "--service and --action are required"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        (None, None),
        ("", None),
        ("localhost:3000/webhooks/runapi", "http://localhost:3000/webhooks/runapi"),
        ("https://127.0.0.1:8443/h", "https://127.0.0.1:8443/h"),
    ],
)
def test_forward_urls_are_normalised(given, url):
    assert normalize_forward_url(given) == url


def test_a_forward_url_that_is_not_http_is_refused():
    with pytest.raises(CliFailure) as failed:
        normalize_forward_url("ftp://host/x")
    assert failed.value.code == exit_codes.VALIDATION


def test_local_paths_in_media_url_fields_are_uploaded_once(tmp_path, monkeypatch):
    from runapi.catalog import get_catalog
    from runapi.cli.local_media import local_path, with_uploads

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(b"png")
    (tmp_path / "b.png").write_bytes(b"png2")
    action = get_catalog().action("nano_banana", "edit_image")
    uploaded = []

    def upload(path):
        uploaded.append(path.name)
        return f"https://files.test/{path.name}"

    body = {
        "prompt": "a.png",  # not a media URL field: left alone
        "source_image_urls": ["a.png", "https://x.test/c.png", "./a.png", str(tmp_path / "b.png"), "missing.png"],
        "callback_url": "a.png",
    }
    out = with_uploads(action, body, upload)
    assert out["source_image_urls"] == [
        "https://files.test/a.png",
        "https://x.test/c.png",
        "https://files.test/a.png",
        "https://files.test/b.png",
        "missing.png",  # not a readable file: sent as it is, for the server to judge
    ]
    assert out["prompt"] == "a.png" and out["callback_url"] == "a.png"
    assert sorted(uploaded) == ["a.png", "b.png"]  # each file once
    assert body["source_image_urls"][0] == "a.png"  # the caller's dict is not changed
    assert local_path("file_" + "0" * 32) is None and local_path("data:image/png;base64,AA") is None
    assert local_path(str(tmp_path)) is None  # a directory


def test_version_prints_json():
    result = _run(["version"])
    assert result.exit_code == 0 and isinstance(json.loads(result.stdout)["version"], str)


class FakeListenServer:
    """The listen protocol's server side in memory (httpx.MockTransport: no sockets), its requests recorded."""

    def __init__(self, batches, expire_first_poll=False):
        self.batches = list(batches)
        self.expire_first_poll = expire_first_poll
        self.log = []
        self.sessions = 0

    def handler(self, request):
        import httpx

        path, token = request.url.path, request.headers.get("x-session-token")
        self.log.append((request.method, path, dict(request.url.params), token))
        if path == "/api/v1/cli/listen_sessions" and request.method == "POST":
            self.sessions += 1
            return httpx.Response(201, json={"session_token": f"s{self.sessions}", "listen_secret": "c2VjcmV0"})
        if path == "/api/v1/cli/listen_events":
            if self.expire_first_poll and token == "s1":
                return httpx.Response(404, json={"error": "Listen session not found or expired"})
            return httpx.Response(200, json={"events": self.batches.pop(0) if self.batches else []})
        if path.endswith("/ack"):
            return httpx.Response(204)
        return httpx.Response(404)


def _event(n, task):
    body = json.dumps({"id": task, "status": "completed"})
    return {"id": n, "signed_body": body, "headers": {"X-Callback-Id": f"cb{n}", "X-Callback-Signature": "sig"}}


def _listener(server, forwarded, forward_status=200):
    import httpx

    from runapi.cli.listen_cmd import Listener

    def forward(request):
        forwarded.append((request.url.path, dict(request.headers), request.content))
        return httpx.Response(forward_status)

    api = httpx.Client(base_url="http://srv", transport=httpx.MockTransport(server.handler))
    fwd = httpx.Client(transport=httpx.MockTransport(forward))
    printed = []
    return Listener(api, "http://local/hook", printed.append, forwarder=fwd), printed


def test_listen_acks_then_forwards_each_event_with_its_headers():
    from runapi.cli.listen_cmd import run_loop

    server = FakeListenServer([[_event(1, "t1"), _event(2, "t2")]], expire_first_poll=True)
    forwarded = []
    listener, printed = _listener(server, forwarded)
    with click.Context(click.Command("listen")):
        listener.open()
        run_loop(listener, max_events=2)
    calls = [(m, p, params.get("last_id"), token) for m, p, params, token in server.log]
    # the first session had expired: a new one, reading from 0 again
    assert calls[:3] == [
        ("POST", "/api/v1/cli/listen_sessions", None, None),
        ("GET", "/api/v1/cli/listen_events", "0", "s1"),
        ("POST", "/api/v1/cli/listen_sessions", None, None),
    ]
    assert calls[3:] == [
        ("GET", "/api/v1/cli/listen_events", "0", "s2"),
        ("POST", "/api/v1/cli/listen_events/1/ack", None, "s2"),
        ("POST", "/api/v1/cli/listen_events/2/ack", None, "s2"),
    ]
    assert [(p, h["x-callback-id"], body) for p, h, body in forwarded] == [
        ("/hook", "cb1", b'{"id": "t1", "status": "completed"}'),
        ("/hook", "cb2", b'{"id": "t2", "status": "completed"}'),
    ]
    assert all(h["content-type"] == "application/json" for _, h, _ in forwarded)
    assert [json.loads(line)["id"] for line in printed] == ["t1", "t2"]


def test_a_local_receivers_failure_does_not_replay_or_stop_the_listener():
    from runapi.cli.listen_cmd import run_loop

    server = FakeListenServer([[_event(1, "t1")], [_event(2, "t2")]])
    forwarded = []
    listener, _ = _listener(server, forwarded, forward_status=500)
    with click.Context(click.Command("listen")):
        listener.open()
        run_loop(listener, max_events=2)
    polls = [params["last_id"] for m, p, params, _ in server.log if p.endswith("listen_events")]
    assert polls == ["0", "1"]  # acked: the cursor moves on, nothing is asked for again
    assert len(forwarded) == 2


def test_listen_stops_when_the_key_is_refused(monkeypatch):
    import httpx

    from runapi.cli.listen_cmd import Listener, run_loop

    monkeypatch.setattr("runapi.cli.listen_cmd.time.sleep", lambda s: None)
    answers = [httpx.Response(503, json={"error": "busy"}), httpx.Response(401, json={"error": "Unauthorized"})]
    api = httpx.Client(base_url="http://srv", transport=httpx.MockTransport(lambda r: answers.pop(0)))
    listener = Listener(api, None, lambda line: None, forwarder=api)
    listener.session = "s1"
    with click.Context(click.Command("listen")), pytest.raises(CliFailure) as stopped:
        run_loop(listener, None)
    assert stopped.value.code == exit_codes.AUTH and answers == []  # a 503 is retried, a 401 ends it


@pytest.mark.parametrize("args", [[], ["files"], ["pricing"]])
def test_a_group_without_a_command_prints_its_help_and_succeeds(args):
    result = _run(args)
    assert result.exit_code == 0 and "Usage:" in result.stdout
