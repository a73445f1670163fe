"""The copilot's prompt cache (copilot.backends.transformers_backend.PromptCache) on a
real, tiny, randomly initialised Llama: a prompt that shares its start with the last
one generates the same tokens as it would from scratch, computing only what differs."""

from __future__ import annotations

import pytest

from copilot.backends.transformers_backend import MIN_REUSED_TOKENS, PromptCache, cache_kwarg

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def model() -> object:
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    return transformers.LlamaForCausalLM(config).eval()


def generate(model: object, ids: list[int], cache: object | None = None) -> list[int]:
    kwargs = {cache_kwarg(): cache} if cache is not None else {}
    with torch.inference_mode():
        out = model.generate(  # type: ignore[attr-defined]
            input_ids=torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=12,
            do_sample=False,
            pad_token_id=0,
            **kwargs,
        )
    return out[0].tolist()


def test_a_shared_prefix_is_reused_and_the_tokens_do_not_change(model: object) -> None:
    system = list(range(3, 43))  # the same rules
    first, second = [*system, 50, 51, 52], [*system, 60, 61, 62, 63]
    prompts = PromptCache()
    cache, reused = prompts.take(first)
    assert reused == 0  # nothing kept yet
    out = generate(model, first, cache)
    prompts.keep(cache, out)
    cache, reused = prompts.take(second)
    assert reused == len(system) and cache.get_seq_length() == len(system)  # cut back to what is shared
    out = generate(model, second, cache)
    assert out == generate(model, second)  # the same tokens as from scratch
    prompts.keep(cache, out)
    assert prompts.take(second)[1] == len(second) - 1  # the same prompt again: all but its last token


def test_nothing_is_reused_below_the_minimum_or_after_a_failure(model: object) -> None:
    prompts = PromptCache()
    short = list(range(3, 3 + MIN_REUSED_TOKENS - 1))
    cache, _ = prompts.take([*short, 90])
    prompts.keep(cache, generate(model, [*short, 90], cache))
    assert prompts.take([*short, 91])[1] == 0  # too little in common
    # take() hands the cache over: a generation that failed keeps nothing for the next.
    assert prompts.take([*short, 90])[1] == 0
