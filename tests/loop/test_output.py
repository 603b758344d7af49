"""Finish detection, answer extraction and the streaming split at `</think>`."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.loop.output import ThinkSplitter, is_finished, split_output


def test_finished_needs_think_end_and_non_empty_answer() -> None:
    assert is_finished("a </think> b <answer>42</answer>")
    assert is_finished("x </think> y </think> <answer> 7 </answer>")
    assert not is_finished("a <answer>42</answer>")  # no </think>
    assert not is_finished("a </think> b")  # no answer
    assert not is_finished("a </think> <answer>  </answer>")  # empty answer
    assert not is_finished("<answer>1</answer> </think> after")  # answer before </think>
    assert not is_finished("a </think> <answer>1</answer> </think> none")  # not after the last


def test_split_output_keeps_tags_in_answer() -> None:
    split = split_output("r1 </think> r2 </think>\n  Final: <answer>\\frac{1}{2}</answer>")
    assert split.reasoning == "r1 </think> r2 "
    assert split.answer == "Final: <answer>\\frac{1}{2}</answer>"
    assert split.final_answer == "\\frac{1}{2}"
    assert split_output("only thinking") == split_output("only thinking")
    assert split_output("only thinking").answer == ""


@given(
    st.lists(st.sampled_from(["a", " ", "</think>", "</th", "ink>", "<", "/", "x", "\n"])),
    st.data(),
)
def test_splitter_streams_exactly_the_text_before_the_first_think_end(
    pieces: list[str], data: st.DataObject
) -> None:
    text = "".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    splitter = ThinkSplitter()
    sure = "".join(splitter.feed(chunk) for chunk in chunks)
    held = splitter.finish()
    assert sure + held == text
    index = text.find("</think>")
    if index >= 0:
        assert sure == text[:index]
    else:
        assert len(held) < len("</think>")
