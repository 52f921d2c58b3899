"""Shared by the inference tests: skip cleanly where the text extra is not installed."""

from __future__ import annotations

import pytest

from toolkit.errors import FailedPreconditionError


def require_text_models() -> None:
    """Skip the calling test module unless the built-in model files and libraries are installed."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    from toolkit.inference.bert import minilm_dir

    try:
        minilm_dir()
    except FailedPreconditionError as exc:  # pragma: no cover - depends on the install
        pytest.skip(str(exc))
