"""The embedded model server: a separate process that serves the packaged chat model
(llama.cpp) and embedding model (sentence-transformers) over the OpenAI HTTP protocol.

The gateway starts and supervises it and routes to it like any OpenAI-compatible
upstream. Run ``python -m cong.modelserver --help`` for its options.
"""
