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


def test_compress_input_is_checked_like_the_request_contract(fake: Fake) -> None:
    for bad in ({"scope": "sideways"}, {"min_tokens": 0}, {"min_tokens": True}, {"x": 1}, 3):
        response = post(fake, {"compress_input": bad})
        assert response.status_code == 400, bad
        assert response.json()["error"]["message"].startswith("vtc.compress_input")


def test_input_pages_per_scope(fake: Fake) -> None:
    long = " ".join(["w"] * 60)  # 60 words: 2 input pages of 50
    history = [
        {"role": "user", "content": long},
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [{"type": "text", "text": long}, {"type": "text", "text": "Q"}],
        },
    ]

    def input_pages(scope: str) -> list[dict[str, object]]:
        body = {"model": "m", "stream": True, "messages": history}
        vtc = {"stream_pages": True, "compress_input": {"min_tokens": 20, "scope": scope}}
        response = httpx.post(f"{fake.url}/chat/completions", json={**body, "vtc": vtc})
        pages = check_page_stream(sse_chunks(response.text.splitlines()))
        return [p for p in pages if p["kind"] == "input"]

    assert len(input_pages("documents")) == 2  # the long part before the question
    assert len(input_pages("history")) == 2  # the earlier turns as one transcript (63 words)
    assert [p["index"] for p in input_pages("all")] == [1, 2, 3, 4]
    assert fake.state.requests[-1]["messages"] == history  # echoed as sent
