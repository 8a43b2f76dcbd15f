"""Legacy ``/v1/completions`` against the real model."""

from __future__ import annotations

from tests.modelserver.conftest import CHAT_MODEL, RunningModelServer


def test_completion_prompts_and_usage(modelserver: RunningModelServer) -> None:
    response = modelserver.client().completions.create(
        model=CHAT_MODEL,
        prompt=["Once upon a time", "The capital of France is"],
        max_tokens=4,
        seed=2,
    )
    assert response.object == "text_completion"
    assert response.id.startswith("cmpl-")
    assert [c.index for c in response.choices] == [0, 1]
    assert all(c.finish_reason == "length" for c in response.choices)
    assert response.usage is not None and response.usage.completion_tokens == 8
    count = sum(
        modelserver.post("/tokenize", {"model": CHAT_MODEL, "text": p}).json()["count"]
        for p in ["Once upon a time", "The capital of France is"]
    )
    assert response.usage.prompt_tokens == count


def test_completion_stream_matches_non_stream(modelserver: RunningModelServer) -> None:
    client = modelserver.client()
    whole = client.completions.create(
        model=CHAT_MODEL, prompt="Hello, my name is", max_tokens=6, seed=4, echo=True
    )
    stream = client.completions.create(
        model=CHAT_MODEL,
        prompt="Hello, my name is",
        max_tokens=6,
        seed=4,
        echo=True,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    text = "".join(c.choices[0].text for c in chunks[:-1])
    assert text == whole.choices[0].text
    assert text.startswith("Hello, my name is")
    assert chunks[-2].choices[0].finish_reason == "length"


def test_token_prompt_and_bad_token(modelserver: RunningModelServer) -> None:
    ok = modelserver.post(
        "/v1/completions", {"model": CHAT_MODEL, "prompt": [28, 29, 30], "max_tokens": 2}
    )
    assert ok.status_code == 200 and ok.json()["usage"]["prompt_tokens"] == 3
    bad = modelserver.post("/v1/completions", {"model": CHAT_MODEL, "prompt": [10**7]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "prompt"
