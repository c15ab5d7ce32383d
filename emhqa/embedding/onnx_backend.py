"""The embedding model on ONNX Runtime: exported once from the local model files (torch is needed
only for that), then run without torch. Same vectors as sentence-transformers: mean pooling over the
attention mask, then unit length."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .base import CachedQueries
from .torch_backend import load_sentence_transformer

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _fingerprint(location: Path) -> str:
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json"):
        if (location / name).is_file():
            digest.update(name.encode() + (location / name).read_bytes())
    return digest.hexdigest()[:16]


def export_onnx(location: str, target: Path) -> None:
    """Write the transformer of a sentence-transformers folder as ONNX (atomically)."""
    import torch

    model = load_sentence_transformer(location)[0].auto_model.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = torch.ones((1, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHiddenState(), (example, example, torch.zeros_like(example)), str(temporary),
                          input_names=names, output_names=["last_hidden_state"], opset_version=17,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                          dynamo=False)
    temporary.replace(target)


def _session_options() -> onnxruntime.SessionOptions:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    # No spin-waiting after a run: spinning worker threads would take the CPU cores from the rest of
    # the process (the Streamlit server, a host application, the next LangChain call).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def _session(location: str, onnx_file: Path) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on the model exported to ``onnx_file``: exported when missing, and
    exported again, with a one-line warning, when the file there cannot be loaded (truncated, garbage)."""
    import onnxruntime

    def open_session() -> onnxruntime.InferenceSession:
        return onnxruntime.InferenceSession(str(onnx_file), _session_options(), providers=["CPUExecutionProvider"])

    if not onnx_file.is_file():
        export_onnx(location, onnx_file)
    try:
        return open_session()
    except Exception as exc:  # onnxruntime raises its own kinds (InvalidProtobuf, Fail, ...)
        log.warning("the exported embedding model %s cannot be loaded (%s); exporting it again",
                    onnx_file, type(exc).__name__)
    export_onnx(location, onnx_file)
    return open_session()


class OnnxEmbedder(CachedQueries):
    """The model at ``location`` on ONNX Runtime, exported once into ``cache_dir`` (``Config.cache_dir``)."""

    def __init__(self, location: str, model_id: str, cache_dir: Path, batch_size: int = 32):
        from tokenizers import Tokenizer

        super().__init__()
        folder = Path(location)
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        if not pooling.get("pooling_mode_mean_tokens") or not (folder / "tokenizer.json").is_file():
            raise ValueError(f"{location} is not a mean-pooling model with a tokenizer.json")
        self.model_id, self._batch_size = model_id, batch_size
        self.dimension = int(pooling["word_embedding_dimension"])
        self._session = _session(location, cache_dir / f"{folder.name}-{_fingerprint(folder)}.onnx")
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(_read_json(folder / "sentence_bert_config.json")
                                              .get("max_seq_length", 256)))
        self._tokenizer.enable_padding()
        self._inputs = [i.name for i in self._session.get_inputs()]

    def _batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        hidden = self._session.run(None, {name: feed[name] for name in self._inputs})[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Similar lengths together: less padding per batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for begin in range(0, len(order), self._batch_size):
            rows = order[begin:begin + self._batch_size]
            vectors[rows] = self._batch([texts[i] for i in rows])
        return vectors
