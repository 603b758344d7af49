"""Reading a round's raw output the way the VTC-R1 reference does.

A round finishes the request when its text contains `</think>` and, after the last `</think>`, a
non-empty `<answer>...</answer>`. The answer we return is the raw text after the final
`</think>` (tags kept, so clients can grade it exactly like the paper); `final_answer` is the
content of its `<answer>` tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_END = "</think>"
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def answer_content(text_after_think: str) -> str | None:
    """The stripped content of the first `<answer>...</answer>`, or None."""
    match = _ANSWER.search(text_after_think)
    return match.group(1).strip() if match else None


def is_finished(round_text: str) -> bool:
    _, sep, tail = round_text.rpartition(THINK_END)
    return bool(sep) and bool(answer_content(tail))


@dataclass(frozen=True)
class SplitOutput:
    reasoning: str
    answer: str
    final_answer: str | None


def split_output(text: str) -> SplitOutput:
    """Reasoning before the final `</think>` (the tag itself dropped), answer after it."""
    head, sep, tail = text.rpartition(THINK_END)
    if not sep:
        return SplitOutput(reasoning=text, answer="", final_answer=None)
    answer = tail.lstrip()
    return SplitOutput(reasoning=head, answer=answer, final_answer=answer_content(answer))


class ThinkSplitter:
    """Streams a round's text as reasoning up to the first `</think>`, and holds what follows.

    The held text is only known to be the answer when the round ends (a later `</think>` or a
    missing `<answer>` turns it back into reasoning), so it is released at the end: all of it
    as reasoning by `finish` when another round follows, or split by `finish_final` when the
    round ends the request. A tail that could be the start of a split `</think>` tag is held
    back until the next chunk decides it.

    The invariant that makes streaming equal to the non-streamed result: `feed` releases only
    text before the FIRST `</think>`, and `split_output` cuts at the LAST one, so what was
    released is always a prefix of the round's final reasoning; `finish_final` returns the rest.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._after_think: str | None = None
        self._released = 0

    def feed(self, chunk: str) -> str:
        """Return the text that is certainly reasoning."""
        if self._after_think is not None:
            self._after_think += chunk
            return ""
        text = self._pending + chunk
        index = text.find(THINK_END)
        if index >= 0:
            self._pending = ""
            self._after_think = text[index:]
            out = text[:index]
        else:
            keep = _partial_suffix(text, THINK_END)
            self._pending = text[len(text) - keep :]
            out = text[: len(text) - keep]
        self._released += len(out)
        return out

    def finish(self) -> str:
        """The held text (from the first `</think>` on, or an undecided tail): all reasoning,
        since another round follows."""
        held = self._pending + (self._after_think or "")
        self._pending, self._after_think = "", None
        self._released += len(held)
        return held

    def finish_final(self, round_text: str) -> tuple[str, SplitOutput]:
        """For the round that ends the request (`round_text` is all it generated): the reasoning
        not yet released, and the round's split into reasoning and answer."""
        split = split_output(round_text)
        rest = split.reasoning[self._released :]
        self._pending, self._after_think = "", None
        self._released = len(split.reasoning)
        return rest, split


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`. Such a suffix
    starts with the tag's first character, so most texts are settled by one `rfind` (this runs
    for every token: the loop below cost ~0.8 us a call)."""
    start = text.rfind(tag[0], max(0, len(text) - len(tag) + 1))
    if start < 0:
        return 0
    for size in range(min(len(tag) - 1, len(text) - start), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
