"""The Responses API with the official SDK (over the ASGI app, scripted engine): objects,
events as `responses.create(stream=True)` and `responses.stream()` parse them, errors."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx2
import openai
import pytest
from PIL import Image

from server.engines.base import ImagePart, TextPart
from tests.api.conftest import SCRIPTED_MODEL, scripted_app
from tests.support.scripted import ScriptedEngine

UNFINISHED = "let me think about this problem step by step carefully " * 20
FINAL = "so it is five </think> The answer is 5. <answer>5</answer>"


class Sdk:
    def __init__(self, outputs: list[str], **settings: object) -> None:
        self.app, self.engine = scripted_app(outputs, **settings)

    async def __aenter__(self) -> tuple[openai.AsyncOpenAI, ScriptedEngine]:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        http = openai.DefaultAsyncHttpxClient(transport=httpx2.ASGITransport(app=self.app))
        self.client = openai.AsyncOpenAI(
            base_url="http://test/v1", api_key="unused", http_client=http, max_retries=0
        )
        return self.client, self.engine

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()
        await self._lifespan.__aexit__(None, None, None)


def vtc_of(obj: Any) -> dict[str, Any]:
    vtc = (obj.model_extra or {}).get("vtc")
    assert isinstance(vtc, dict)
    return vtc


async def test_create_returns_one_reasoning_item_per_round_then_the_answer() -> None:
    async with Sdk([UNFINISHED, FINAL]) as (client, engine):
        response = await client.responses.create(
            model=SCRIPTED_MODEL, input="What is 2 + 3?", instructions="Be brief."
        )
    assert response.status == "completed" and response.incomplete_details is None
    kinds = [item.type for item in response.output]
    assert kinds == ["reasoning", "reasoning", "message"]
    first, second, message = response.output
    assert first.type == "reasoning" and first.content is not None
    assert first.content[0].type == "reasoning_text" and first.content[0].text == UNFINISHED
    assert second.type == "reasoning" and second.content is not None
    assert second.content[0].text == "so it is five "
    assert message.type == "message"
    assert response.output_text == "The answer is 5. <answer>5</answer>"
    usage = response.usage
    assert usage is not None
    vtc = vtc_of(response)
    assert usage.output_tokens == sum(r["generated_tokens"] for r in vtc["per_round"])
    assert usage.input_tokens == sum(r["prompt_tokens"] for r in vtc["per_round"])
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    answer_tokens = len(response.output_text.split())
    assert usage.output_tokens_details.reasoning_tokens == usage.output_tokens - answer_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert vtc["rounds"] == 2 and vtc["finished"] is True and vtc["final_answer"] == "5"
    # instructions join the VTC system prompt, as a chat system message does.
    system = engine.calls[0][0][0]
    assert system.role == "system" and isinstance(system.parts[0], TextPart)
    assert system.parts[0].text.endswith("\n\nBe brief.")


async def test_out_of_rounds_is_incomplete_with_max_output_tokens() -> None:
    async with Sdk([UNFINISHED, UNFINISHED]) as (client, _):
        response = await client.responses.create(
            model=SCRIPTED_MODEL, input="hard question", extra_body={"vtc": {"max_rounds": 2}}
        )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert [item.type for item in response.output] == ["reasoning", "reasoning"]
    assert response.output_text == ""
    usage = response.usage
    assert usage is not None and usage.output_tokens_details.reasoning_tokens == usage.output_tokens


async def events_of(stream: Any) -> list[Any]:
    return [event async for event in stream]


async def test_streamed_events_parse_in_order_and_agree_with_create() -> None:
    async with Sdk([UNFINISHED, FINAL, UNFINISHED, FINAL]) as (client, _):
        plain = await client.responses.create(model=SCRIPTED_MODEL, input="What is 2 + 3?")
        events = await events_of(
            await client.responses.create(
                model=SCRIPTED_MODEL, input="What is 2 + 3?", stream=True, extra_body={"vtc": {}}
            )
        )
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert types.count("response.vtc.round") == 2
    assert types.count("response.output_item.added") == types.count("response.output_item.done")
    reasoning = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    answer = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    plain_reasoning = "".join(
        c.text for item in plain.output if item.type == "reasoning" for c in item.content or []
    )
    assert reasoning == plain_reasoning and answer == plain.output_text
    done = [e.item for e in events if e.type == "response.output_item.done"]
    final = events[-1].response
    assert [i.id for i in final.output] == [i.id for i in done]
    assert final.status == plain.status and final.output_text == plain.output_text
    assert vtc_of(final)["per_round"][0]["generated_tokens"] == len(UNFINISHED.split())
    # Our round marker comes after its round's reasoning item is done.
    first_marker = types.index("response.vtc.round")
    assert types[first_marker - 1] == "response.output_item.done"
    marker = events[first_marker]
    assert (marker.model_extra or {})["vtc"]["round"] == 1


async def test_the_sdk_stream_helper_gives_the_final_response() -> None:
    async with (
        Sdk([UNFINISHED, FINAL]) as (client, _),
        client.responses.stream(model=SCRIPTED_MODEL, input="2 + 3?") as stream,
    ):
        texts = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(texts) == final.output_text == "The answer is 5. <answer>5</answer>"
    assert final.status == "completed"


async def test_image_input_reaches_the_engine() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 24), "green").save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    async with Sdk([FINAL]) as (client, engine):
        response = await client.responses.create(
            model=SCRIPTED_MODEL,
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What colour?"},
                        {"type": "input_image", "image_url": url, "detail": "auto"},
                    ],
                }
            ],
        )
    assert response.status == "completed"
    question = engine.calls[0][0][-1]
    images = [p for p in question.parts if isinstance(p, ImagePart)]
    assert len(images) == 1 and images[0].image.getpixel((3, 3)) == (0, 128, 0)


async def test_stream_pages_as_events() -> None:
    long = UNFINISHED * 15
    async with Sdk([long, FINAL], round_max_tokens=8192) as (client, _):
        stream = await client.responses.create(
            model=SCRIPTED_MODEL,
            input="2 + 3?",
            stream=True,
            extra_body={"vtc": {"stream_pages": True}},
        )
        events = await events_of(stream)
    pages = [(e.model_extra or {})["vtc"]["page"] for e in events if e.type == "response.vtc.page"]
    final = vtc_of(events[-1].response)
    assert len(pages) == final["pages"] >= 2
    assert [p["index"] for p in pages] == list(range(1, len(pages) + 1))


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"store": True}, "store"),
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"text": {"format": {"type": "json_object"}}}, "text.format"),
        ({"include": ["reasoning.encrypted_content"]}, "include"),
        ({"reasoning": {"effort": "none"}}, "reasoning.effort"),
        ({"chat_template_kwargs": {"enable_thinking": False}}, "chat_template_kwargs"),
    ],
)
async def test_stateful_and_tool_features_are_refused(extra: dict[str, Any], param: str) -> None:
    async with Sdk([FINAL]) as (client, _):
        with pytest.raises(openai.BadRequestError) as caught:
            await client.responses.create(model=SCRIPTED_MODEL, input="hi", extra_body=extra)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["code"] == "unsupported_value" and error["param"] == param


async def test_bad_requests_get_openai_errors() -> None:
    async with Sdk([FINAL]) as (client, _):
        with pytest.raises(openai.NotFoundError) as missing:
            await client.responses.create(model="nope", input="hi")
        with pytest.raises(openai.BadRequestError) as last:
            await client.responses.create(
                model=SCRIPTED_MODEL, input=[{"role": "assistant", "content": "hello"}]
            )
        with pytest.raises(openai.BadRequestError) as capped:
            await client.responses.create(model=SCRIPTED_MODEL, input="hi", max_output_tokens=10**9)
    assert isinstance(missing.value.body, dict) and missing.value.body["code"] == "model_not_found"
    assert isinstance(last.value.body, dict) and last.value.body["param"] == "input.0.role"
    assert isinstance(capped.value.body, dict) and capped.value.body["param"] == "max_output_tokens"


async def test_our_events_only_for_clients_that_send_a_vtc_object() -> None:
    async with Sdk([UNFINISHED, FINAL]) as (client, _):
        stream = await client.responses.create(model=SCRIPTED_MODEL, input="2 + 3?", stream=True)
        events = await events_of(stream)
    assert not [e for e in events if e.type.startswith("response.vtc.")]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type == "response.completed"
