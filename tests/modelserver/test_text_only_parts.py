"""The embedded (text-only) model refuses image, audio and file parts with a 400 that
carries a machine-readable ``code`` per kind of input."""

from __future__ import annotations

from typing import Any

import pytest

from cong.modelserver.chat_prompt import check_text_only
from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.errors import APIError

PARTS: dict[str, dict[str, Any]] = {
    "image": {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    "audio": {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    "file": {"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA"}},
}


@pytest.mark.parametrize("kind", list(PARTS))
def test_non_text_parts_have_a_code(kind: str) -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}, PARTS[kind]]}
            ],
        }
    )
    with pytest.raises(APIError) as caught:
        check_text_only(request.messages, "m")
    assert caught.value.status == 400
    assert caught.value.code == f"{kind}_input_not_supported"
    assert caught.value.param == "messages"
