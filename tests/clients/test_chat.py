"""`vtcr1 chat` end to end against the fake server over HTTP."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from clients import chat
from tests.clients.conftest import Fake
from tests.clients.fake_server import FakeReply


def three_rounds(question: str, vtc: dict[str, Any]) -> FakeReply:
    return FakeReply(
        ["alpha beta gamma", "delta epsilon", "zeta"], "The result: <answer>7</answer>"
    )


def test_streams_reasoning_rounds_then_answer_plain(
    fake: Fake, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.state.responder = three_rounds
    assert chat.main(["--base-url", fake.url, "What is 3+4?"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" not in out  # not a terminal: plain text
    lines = out.splitlines()
    # each page the moment it streams (mid-round: between its round's reasoning tokens)
    assert lines[0] == "alpha "
    assert lines[1] == "[page 1 | round 1 | vision tokens 2 | 8x8]"
    assert lines[2] == "beta gamma"
    assert lines[3].startswith("[round 1 | generated 3 tokens | pages 1 | vision tokens 2")
    assert "compression 1.50x" in lines[3]
    assert lines[4] == "delta "
    assert lines[5] == "[page 2 | round 2 | vision tokens 2 | 8x8]"
    assert lines[6] == "epsilon"
    assert lines[7].startswith("[round 2 | generated 2 tokens | pages 1")
    assert lines[8] == "zeta"
    assert lines[9].startswith("[round 3 |") and "pages 0" in lines[9]
    assert lines[10] == "Answer:"
    assert lines[11] == "The result: <answer>7</answer>"
    summary = lines[12]
    assert "rounds 3" in summary and "finished yes" in summary and "pages 2" in summary
    assert "compression 1.25x" in summary  # 5 reasoning tokens / 4 vision tokens
    assert "input" not in summary  # no --compress-input, no input pages
    assert len(lines) == 13
    assert fake.state.requests[0]["vtc"] == {"stream_pages": True}


def test_sends_model_vtc_and_sampling(fake: Fake, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--base-url", fake.url, "--mode", "baseline", "--max-rounds", "3"]
    argv += ["--round-max-tokens", "100", "--temperature", "0.2", "--max-tokens", "50", "Q?"]
    assert chat.main(argv) == 0
    (body,) = fake.state.requests
    assert body["model"] == "fake-vtc"  # the first of /v1/models
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["vtc"] == {
        "mode": "baseline",
        "max_rounds": 3,
        "round_max_tokens": 100,
        "stream_pages": True,
    }
    assert body["temperature"] == 0.2 and body["max_tokens"] == 50
    assert "top_p" not in body  # unset knobs are not sent
    assert body["messages"] == [{"role": "user", "content": "Q?"}]
    assert "Answer:\n<answer>42</answer>" in capsys.readouterr().out


def test_api_key_from_env_and_flag(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    assert chat.main(["--base-url", fake.url, "-q", "Q"]) == 0
    assert chat.main(["--base-url", fake.url, "--api-key", "from-flag", "-q", "Q"]) == 0
    monkeypatch.delenv("OPENAI_API_KEY")
    assert chat.main(["--base-url", fake.url, "-q", "Q"]) == 0
    assert fake.state.auth == ["Bearer from-env", "Bearer from-flag", "Bearer EMPTY"]


def test_color_on_request(fake: Fake, capsys: pytest.CaptureFixture[str]) -> None:
    assert chat.main(["--base-url", fake.url, "--color", "always", "Q"]) == 0
    out = capsys.readouterr().out
    assert chat.DIM + "round " in out  # reasoning dimmed
    assert chat.BOLD + "Answer:" in out


def test_quiet_prints_only_the_answer(fake: Fake, capsys: pytest.CaptureFixture[str]) -> None:
    assert chat.main(["--base-url", fake.url, "-q", "Q"]) == 0
    assert capsys.readouterr().out == "<answer>42</answer>\n"
    assert "vtc" not in fake.state.requests[0]  # pages neither shown nor saved: not asked for


def test_question_from_stdin(
    fake: Fake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("  from stdin?\n"))
    assert chat.main(["--base-url", fake.url, "-q"]) == 0
    assert fake.state.requests[0]["messages"][0]["content"] == "from stdin?"
    monkeypatch.setattr("sys.stdin", io.StringIO("   \n"))
    assert chat.main(["--base-url", fake.url]) == 2


def test_save_pages_writes_each_page_as_it_arrives(
    fake: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.state.responder = three_rounds
    out_dir = tmp_path / "pages"
    on_disk_at_round_end: list[list[str]] = []
    real_round = chat.Printer.round

    def round_and_look(self: chat.Printer, entry: dict[str, Any]) -> None:
        on_disk_at_round_end.append(sorted(f.name for f in out_dir.glob("*.png")))
        real_round(self, entry)

    monkeypatch.setattr(chat.Printer, "round", round_and_look)
    assert chat.main(["--base-url", fake.url, "--save-pages", str(out_dir), "-q", "Q"]) == 0
    assert fake.state.requests[0]["vtc"] == {"stream_pages": True}  # -q, but pages are saved
    # a round's page is on disk before that round has ended: written from its page chunk
    assert on_disk_at_round_end == [
        ["page_001.png"],
        ["page_001.png", "page_002.png"],
        ["page_001.png", "page_002.png"],
    ]
    files = sorted(out_dir.iterdir())
    assert [f.name for f in files] == ["page_001.png", "page_002.png"]
    colors = []
    for f in files:
        with Image.open(f) as image:
            assert image.format == "PNG" and image.size == (8, 8)
            colors.append(image.getpixel((0, 0)))
    assert colors[0] != colors[1]  # two different pages, in order
    assert capsys.readouterr().err == f"saved 2 page(s) to {out_dir}\n"


def test_page_lines_name_the_saved_files(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.state.responder = three_rounds
    assert chat.main(["--base-url", fake.url, "--save-pages", str(tmp_path), "Q"]) == 0
    page_lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[page ")]
    assert page_lines == [
        f"[page 1 | round 1 | vision tokens 2 | 8x8 | saved {tmp_path / 'page_001.png'}]",
        f"[page 2 | round 2 | vision tokens 2 | 8x8 | saved {tmp_path / 'page_002.png'}]",
    ]


def test_pages_saved_before_a_failure_stay_and_are_counted(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.state.responder = three_rounds
    assert chat.main(["--base-url", fake.url, "--save-pages", str(tmp_path), "CRASH late"]) == 1
    err = capsys.readouterr().err
    assert "engine died mid-stream" in err
    assert f"saved 1 page(s) to {tmp_path}" in err
    assert [f.name for f in tmp_path.iterdir()] == ["page_001.png"]


def test_server_error_is_reported(fake: Fake, capsys: pytest.CaptureFixture[str]) -> None:
    assert chat.main(["--base-url", fake.url, "please FAIL"]) == 1
    assert "HTTP 500: scripted failure" in capsys.readouterr().err


def test_unreachable_server_fails_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert chat.main(["--base-url", f"http://127.0.0.1:{port}/v1", "--timeout", "5", "Q"]) == 1
    assert "connection error" in capsys.readouterr().err


def test_error_in_the_middle_of_the_stream(fake: Fake, capsys: pytest.CaptureFixture[str]) -> None:
    assert chat.main(["--base-url", fake.url, "BREAK now"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("partial")  # what came before the error was shown
    assert "engine died mid-stream" in captured.err


DOCUMENT = " ".join(f"word{i}" for i in range(120))  # 120 fake tokens: 3 input pages of 50


def test_document_is_a_text_part_before_the_question(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(DOCUMENT)
    argv = ["--base-url", fake.url, "--document", str(doc), "--system", "S", "What is it?"]
    assert chat.main(argv) == 0
    (body,) = fake.state.requests
    assert body["messages"] == [
        {"role": "system", "content": "S"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": DOCUMENT},
                {"type": "text", "text": "What is it?"},  # the question stays the last part
            ],
        },
    ]
    assert body["vtc"] == {"stream_pages": True}  # compression stays off unless asked
    out = capsys.readouterr().out
    assert "input" not in out  # no input pages, no input numbers


def test_compress_input_streams_input_pages_first_and_saves_them_apart(
    fake: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(DOCUMENT))
    pages_dir = tmp_path / "pages"
    argv = ["--base-url", fake.url, "--document", "-", "--compress-input"]
    argv += ["--compress-input-min-tokens", "100", "--save-pages", str(pages_dir), "Q?"]
    assert chat.main(argv) == 0
    (body,) = fake.state.requests
    assert body["vtc"] == {
        "stream_pages": True,
        "compress_input": {"min_tokens": 100, "scope": "documents"},
    }
    assert body["messages"][0]["content"][0]["text"] == DOCUMENT  # read from stdin
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    for i in range(3):  # before any reasoning, labelled as input, no round
        path = pages_dir / f"input_{i + 1:03d}.png"
        assert lines[i] == f"[input page {i + 1} | vision tokens 2 | 8x8 | saved {path}]"
    assert lines[3] == "round one thinks about "
    assert lines[4].startswith("[page 1 | round 1 |")
    assert "input pages 3 | input text tokens 120 | input vision tokens 6" in lines[-1]
    assert "input compression 20.00x" in lines[-1]
    assert sorted(f.name for f in pages_dir.iterdir()) == [
        "input_001.png",
        "input_002.png",
        "input_003.png",
        "page_001.png",
    ]
    with Image.open(pages_dir / "input_001.png") as image:
        assert image.convert("RGB").getpixel((0, 0)) == (40, 80, 20)  # the fake's input page 1
    assert captured.err == f"saved 1 page(s) and 3 input page(s) to {pages_dir}\n"


@pytest.mark.parametrize(
    ("flags", "sent"),
    [
        (["--compress-input"], {"min_tokens": 2048, "scope": "documents"}),
        (["--compress-input", "history"], {"min_tokens": 2048, "scope": "history"}),
        (
            ["--compress-input", "all", "--compress-input-min-tokens", "64"],
            {"min_tokens": 64, "scope": "all"},
        ),
    ],
)
def test_compress_input_object(fake: Fake, flags: list[str], sent: dict[str, Any]) -> None:
    assert chat.main(["--base-url", fake.url, "-q", "Q?", *flags]) == 0
    assert fake.state.requests[0]["vtc"] == {"compress_input": sent}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--compress-input", "What is 2+2?"], "a question goes before --compress-input"),
        (["--compress-input-min-tokens", "10", "Q"], "needs --compress-input"),
        (["--compress-input", "--compress-input-min-tokens", "0", "Q"], "at least 1"),
    ],
)
def test_bad_compress_input_flags_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        chat.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_unreadable_documents_are_refused(
    fake: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--base-url", fake.url]
    assert chat.main([*base, "--document", str(tmp_path / "missing.txt"), "Q"]) == 2
    assert "cannot read document" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("the document"))
    assert chat.main([*base, "--document", "-"]) == 2  # stdin is taken: where is the question?
    assert "pass the question as an argument" in capsys.readouterr().err
    assert chat.main([*base, "--document", "-", "--document", "-", "Q"]) == 2
    assert fake.state.requests == []
