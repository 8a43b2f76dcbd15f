"""The chat model wrapper in-process: grammars, KV-cache reuse and determinism."""

from __future__ import annotations

from collections.abc import Iterator

import llama_cpp
import pytest

from cong.modelserver.chat_model import ChatModel
from cong.modelserver.grammar import JSON_OBJECT_GBNF, any_tool_call_grammar, tool_call_grammar
from cong.modelserver.options import ServerOptions
from cong.modelserver.sampler import GrammarError, SamplingParams
from cong.protocol.messages import FunctionDefinition


@pytest.fixture(scope="module")
def model() -> Iterator[ChatModel]:
    path = ServerOptions().resolved_chat_model_path()
    yield ChatModel("smollm2-135m-instruct", path, context_size=1024, threads=1)


def _prompt(model: ChatModel, question: str) -> list[int]:
    return model.tokenize_prompt(f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n")


def _generate(model: ChatModel, prompt: list[int], *, grammar: str | None = None) -> str:
    model.prime(prompt, lambda: False)
    tokens: list[int] = []
    with model.sampler(SamplingParams(), seed=5, grammar=grammar) as sampler:
        for _ in range(12):
            token = sampler.sample()
            if model.is_end(token):
                break
            tokens.append(token)
            model.advance(token)
    return model.detokenize(tokens)


def test_grammars_compile(model: ChatModel) -> None:
    weather = FunctionDefinition(
        name="get_weather",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
    )
    for grammar in (JSON_OBJECT_GBNF, any_tool_call_grammar(), tool_call_grammar((weather,))):
        assert model.grammar_compiles(grammar), grammar
    assert not model.grammar_compiles("root ::= (")
    with pytest.raises(GrammarError):
        model.sampler(SamplingParams(), seed=1, grammar="root ::= (")


def test_same_seed_same_text_whatever_the_cache_holds(model: ChatModel) -> None:
    hello, joke = _prompt(model, "Say hello"), _prompt(model, "Tell me a joke")
    first = _generate(model, hello)
    assert model.prime(hello, lambda: False) == len(hello) - 2  # the prefix is reused
    assert _generate(model, hello) == first
    _generate(model, joke)  # shares only the template's start with `hello`
    assert _generate(model, hello) == first


def test_special_tokens_end_generation(model: ChatModel) -> None:
    assert model.is_end(model.eos_id)
    assert model.is_end(model.tokenize("<|im_start|>", special=True)[0])
    assert not model.is_end(model.tokenize("hello")[0])


def test_thread_count_does_not_change_the_text(model: ChatModel) -> None:
    hello = _prompt(model, "Say hello")
    first = _generate(model, hello)
    llama_cpp.llama_set_n_threads(model.llm.ctx, 2, model.threads)
    try:
        assert _generate(model, hello) == first
    finally:
        llama_cpp.llama_set_n_threads(model.llm.ctx, model.threads, model.threads)
