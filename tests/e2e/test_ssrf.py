"""Outbound fetches refuse our own network: checked on the resolved address of every connection and hop.
Only loopback addresses are ever contacted here; other private ranges are checked without connecting."""

import asyncio

import httpx
import pytest

from runapi.net.safe_http import safe_client

LOOPBACK_FORMS = [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://2130706433:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://0x7f.0.0.1:{port}/",
    "http://127.1:{port}/",
    "http://[::1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::ffff:7f00:1]:{port}/",
]


def fetch(url, **kw):
    async def go():
        async with safe_client(**kw) as c:
            return await c.get(url)

    return asyncio.run(go())


@pytest.mark.parametrize("form", LOOPBACK_FORMS)
def test_loopback_in_any_spelling_is_refused(form, recorder):
    r = recorder()
    url = form.format(port=r.url.rsplit(":", 1)[1])
    with pytest.raises((httpx.ConnectError, httpx.InvalidURL)) as info:
        fetch(url)  # refused by our address check, or by httpx's URL parser for non-standard spellings
    if isinstance(info.value, httpx.ConnectError):
        assert "private or reserved address" in str(info.value)
    assert r.requests == []


def test_loopback_allowed_when_configured(recorder):
    r = recorder()
    assert fetch(r.url + "/x", allow_private=True).status_code == 200
    assert r.requests[0]["path"] == "/x"


def test_redirects_are_checked_on_every_hop(recorder):
    # 127.0.0.1 stands in for a public host; the redirect target 127.0.0.2 for a private one.
    target = recorder()
    port = target.url.rsplit(":", 1)[1]
    first = recorder(lambda m, p, h, b: (302, {"Location": f"http://127.0.0.2:{port}/secret"}, b""))
    only_first = lambda ip: str(ip) == "127.0.0.1"  # noqa: E731
    with pytest.raises(httpx.ConnectError):
        fetch(first.url, policy=only_first)
    assert target.requests == [] and len(first.requests) == 1


def test_at_most_five_redirects(recorder):
    hops = []

    def loop(m, p, h, b):
        hops.append(p)
        return 302, {"Location": f"/r{len(hops)}"}, b""

    r = recorder(loop)
    with pytest.raises(httpx.TooManyRedirects):
        fetch(r.url, allow_private=True)
    assert len(hops) == 6  # the request and five redirects
