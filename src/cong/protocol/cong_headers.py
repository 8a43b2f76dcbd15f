"""Response headers of Cổng's own, beside OpenAI's."""

from __future__ import annotations

# The embedded model server lowered a ``max_tokens`` too large for the context to N (the
# value) instead of refusing it; the gateway passes it on to the client.
MAX_TOKENS_CLAMPED = "x-cong-max-tokens-clamped"
