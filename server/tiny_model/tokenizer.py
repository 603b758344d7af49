"""The tiny model's tokenizer: a byte-level BPE trained here, plus GLM-4.1V's special tokens.

Layout follows GLM-4.1V: the learned vocabulary first, the special tokens after it, so the ids
in the model config (`image_token_id`, ...) are read back from the tokenizer rather than assumed.
"""

from __future__ import annotations

from importlib import resources

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from server.tiny_model.corpus import build_corpus

BPE_VOCAB_SIZE = 4000

# GLM-4.1V's special tokens, in its order (its ids start at 151329; ours after the BPE vocab).
GLM_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "[MASK]",
    "[gMASK]",
    "[sMASK]",
    "<sop>",
    "<eop>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|observation|>",
    "<|begin_of_image|>",
    "<|end_of_image|>",
    "<|begin_of_video|>",
    "<|end_of_video|>",
    "<|image|>",
    "<|video|>",
)
# Tags the VTC loop parses; whole tokens (not special) as in GLM-4.1V-Thinking, so that
# `skip_special_tokens` never hides them.
REASONING_TOKENS = ("<think>", "</think>", "<answer>", "</answer>")

EOS_TOKEN = "<|endoftext|>"
# GLM-4.1V stops on any of these (its generation_config.json).
STOP_TOKENS = ("<|endoftext|>", "<|user|>", "<|observation|>")


def chat_template() -> str:
    return resources.files("server.tiny_model").joinpath("chat_template.jinja").read_text("utf-8")


def train_tokenizer() -> PreTrainedTokenizerFast:
    """Train the BPE on the built-in corpus; same merges on every run (single-threaded)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(build_corpus(), trainer=trainer)
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in GLM_SPECIAL_TOKENS]
    )
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in REASONING_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        chat_template=chat_template(),
        model_max_length=1 << 20,
    )
