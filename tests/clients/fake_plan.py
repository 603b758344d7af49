"""What the fake server sends for one request, worked out before the first byte: the rounds'
reasoning "tokens" (whitespace words), their `per_round` numbers, the pages (one per round that
does not end the request, 8x8 PNGs of 2 vision tokens each), the input pages of
`vtc.compress_input`, and the final `vtc` object."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from tests.clients.fake_input import compressed_texts, input_account

PAGE_SIZE = (8, 8)
VISION_TOKENS_PER_PAGE = 2


@dataclass(frozen=True)
class FakeReply:
    rounds: list[str]  # reasoning of each round (the last round's ends at </think>)
    answer: str  # text after the final </think>


Responder = Callable[[str, dict[str, Any]], FakeReply]


def default_responder(question: str, vtc: dict[str, Any]) -> FakeReply:
    """Two rounds of reasoning, then `<answer>42</answer>`."""
    return FakeReply(
        rounds=[f"round one thinks about {question} for a while", "round two checks the result"],
        answer="<answer>42</answer>",
    )


def tokens(text: str) -> list[str]:
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + ([words[-1]] if words[-1] else [])


def _png(index: int, kind: str) -> str:
    blue = 160 if kind == "reasoning" else 20
    image = Image.new("RGB", PAGE_SIZE, ((40 * index) % 256, 80, blue))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def page(round_: int, index: int, kind: str = "reasoning") -> dict[str, Any]:
    """The `vtc.page` object of the contract."""
    width, height = PAGE_SIZE
    return {
        "round": round_,
        "index": index,
        "kind": kind,
        "vision_tokens": VISION_TOKENS_PER_PAGE,
        "width": width,
        "height": height,
        "url": _png(index, kind),
    }


def question_of(messages: list[dict[str, Any]]) -> str:
    """The question: the last user message, or its last text part."""
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                texts = [p.get("text", "") for p in content if isinstance(p, dict)]
                return texts[-1] if texts else ""
    return ""


@dataclass
class Plan:
    """One request worked out up front: the rounds, their numbers and the final `vtc`."""

    rounds: list[list[str]]  # reasoning tokens per round
    answer_tokens: list[str]  # "</think>" and the answer's tokens; empty when unfinished
    per_round: list[dict[str, Any]]
    pages: list[list[dict[str, Any]]]  # `vtc.page` objects per round
    input_pages: list[dict[str, Any]]  # `vtc.page` objects of kind "input", before round 1
    vtc: dict[str, Any]

    @property
    def answer(self) -> str:
        return "".join(self.answer_tokens[1:])

    @property
    def usage(self) -> dict[str, int]:
        prompt = sum(r["prompt_tokens"] for r in self.per_round)
        completion = sum(r["generated_tokens"] for r in self.per_round)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }


def _round_entry(
    i: int, prompt_tokens: int, generated: int, n_pages: int, earlier: int
) -> dict[str, Any]:
    return {
        "round": i,
        "prompt_tokens": prompt_tokens + VISION_TOKENS_PER_PAGE * earlier,
        "cached_tokens": 0 if i == 1 else prompt_tokens,
        "generated_tokens": generated,
        "pages": n_pages,
        "vision_tokens": VISION_TOKENS_PER_PAGE * n_pages,
        "ttft_s": 0.001,
        "latency_s": 0.002,
        "render_s": 0.0005 if n_pages else 0.0,
        "gap_s": None if i == 1 else 0.0001,
    }


def _rounds(plan: Plan, mode: str, finished: bool, prompt_tokens: int) -> None:
    """Per round: its numbers and pages (none in baseline mode or for the round that ends)."""
    page_index = 0
    for i, toks in enumerate(plan.rounds, start=1):
        last = i == len(plan.rounds)
        n_pages = 0 if (last and finished) or mode != "vtc" else 1
        generated = len(toks) + (len(plan.answer_tokens) if last else 0)
        plan.per_round.append(_round_entry(i, prompt_tokens, generated, n_pages, page_index))
        plan.pages.append([page(i, page_index + k + 1) for k in range(n_pages)])
        page_index += n_pages


def _final_vtc(plan: Plan, mode: str, finished: bool) -> dict[str, Any]:
    reasoning_tokens = sum(r["generated_tokens"] for r in plan.per_round if r["pages"])
    vision_tokens = sum(r["vision_tokens"] for r in plan.per_round)
    answer = plan.answer
    final = None
    if "<answer>" in answer and "</answer>" in answer:
        final = answer.split("<answer>")[-1].split("</answer>")[0].strip()
    return {
        "mode": mode,
        "rounds": len(plan.rounds),
        "finished": finished and final is not None,
        "pages": sum(len(p) for p in plan.pages),
        "reasoning_tokens": reasoning_tokens,
        "vision_tokens": vision_tokens,
        "compression_ratio": reasoning_tokens / vision_tokens if vision_tokens else None,
        "final_answer": final,
        "per_round": plan.per_round,
    }


def make_plan(vtc: dict[str, Any], reply: FakeReply, messages: list[dict[str, Any]]) -> Plan:
    mode = vtc.get("mode", "vtc")
    texts = reply.rounds if mode == "vtc" else [" ".join(reply.rounds)]
    texts = texts[: int(vtc.get("max_rounds", 8))]
    finished = len(texts) == len(reply.rounds) or mode != "vtc"
    plan = Plan(
        rounds=[tokens(t) for t in texts],
        answer_tokens=["</think>", *tokens(reply.answer)] if finished else [],
        per_round=[],
        pages=[],
        input_pages=[],
        vtc={},
    )
    _rounds(plan, mode, finished, prompt_tokens=len(tokens(question_of(messages))) + 10)
    plan.vtc = _final_vtc(plan, mode, finished)
    if vtc.get("return_pages"):
        plan.vtc["page_images"] = [p["url"] for rp in plan.pages for p in rp]
    if "compress_input" in vtc:
        texts = compressed_texts(messages, vtc["compress_input"])
        n_input, plan.vtc["input"] = input_account(texts, VISION_TOKENS_PER_PAGE)
        plan.input_pages = [page(0, i, "input") for i in range(1, n_input + 1)]
    return plan
