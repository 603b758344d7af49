"""`benchmarks/input_compression.py` measures what it says: its documents have the size asked
and share nothing between variants, and its measuring function returns sane numbers on the real
engine (a 1-2 page document). The feature itself is tested in tests/api/test_compress_engine.py."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from input_compression import Documents, measure

from server.engines.tokenizer import ModelTokenizer
from server.engines.vllm_local import VllmLocalEngine
from tests.conftest import TEST_MAX_IMAGES


@pytest.fixture(scope="module")
def docs(tiny_model_dir: Path) -> Documents:
    tokenizer = ModelTokenizer.load(str(tiny_model_dir))
    encode = functools.partial(tokenizer.encode, add_special_tokens=False)
    return Documents(encode, tokenizer.decode, math=("Problem. $x^2 = 4$\n\nSolution. $x = 2$.",))


def test_documents_have_the_size_asked_and_differ_per_variant(docs: Documents) -> None:
    first, second = docs.build(3000, 1), docs.build(3000, 2)
    assert abs(docs.count(first) - 3000) <= 3
    assert abs(docs.count(second) - 3000) <= 3
    assert "Problem." in first and "<think>" not in first
    assert first[:200] != second[:200]  # no shared prefix: no prefix-cache hit between them


@pytest.mark.engine
async def test_measure_returns_both_variants_numbers(
    vllm_engine: VllmLocalEngine, docs: Documents
) -> None:
    document = docs.build(2300, 1)
    tokens = docs.count(document)
    common = {"doc_tokens": tokens, "max_images": TEST_MAX_IMAGES}
    packed = await measure(vllm_engine, document, compress=True, request_id="smoke-1", **common)
    plain = await measure(vllm_engine, document, compress=False, request_id="smoke-0", **common)
    assert plain.pages == plain.text_tokens == plain.vision_tokens == 0
    assert plain.prompt_tokens > tokens
    assert packed.pages >= 1 and packed.render_s > 0
    assert packed.text_tokens == tokens
    assert packed.vision_tokens < packed.prompt_tokens < plain.prompt_tokens
    assert packed.cached_tokens_r2 > 0  # round 2 re-reads the input pages from the cache
    for sample in (packed, plain):
        assert sample.rounds == 2
        assert 0 < sample.ttft_s <= sample.request_ttft_s < sample.e2e_s
