"""The fake server holds to the page-streaming contract, so what the client tests see is what
the real gateway sends (the same check runs on the real one in the end-to-end tests)."""

from __future__ import annotations

import httpx

from tests.clients.conftest import Fake
from tests.clients.fake_server import FakeReply
from tests.clients.page_contract import check_page_stream, sse_chunks


def post(fake: Fake, vtc: dict[str, object], content: object = "Q") -> httpx.Response:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": content}]}
    return httpx.post(f"{fake.url}/chat/completions", json={**body, "vtc": vtc}, timeout=10)


def test_page_chunks_follow_the_contract(fake: Fake) -> None:
    fake.state.responder = lambda q, v: FakeReply(
        ["a b c", "d e", "f g h i", "j"], "<answer>1</answer>"
    )
    response = post(fake, {"stream_pages": True})
    assert response.status_code == 200
    pages = check_page_stream(sse_chunks(response.text.splitlines()))
    assert [(p["round"], p["index"]) for p in pages] == [(1, 1), (2, 2), (3, 3)]


def test_no_page_chunks_unless_asked(fake: Fake) -> None:
    chunks = sse_chunks(post(fake, {}).text.splitlines())
    assert not any("page" in (c.get("vtc") or {}) for c in chunks)
    (final,) = [c["vtc"] for c in chunks if "per_round" in (c.get("vtc") or {})]
    assert final["pages"] == 1  # rendered all the same, only not streamed


def test_unknown_vtc_field_is_refused_like_the_real_server(fake: Fake) -> None:
    response = post(fake, {"stream_page": True})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("vtc.stream_page")
