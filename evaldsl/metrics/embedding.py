"""`embedding_similarity`: the cosine similarity between the embeddings of the output and of each reference
(the best reference counts), from a local transformers encoder (mean of the last hidden states over the
tokens) or an API embedding model through litellm."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evaldsl.metrics.base import MetricError, MetricInput


def cosine(a: list[float], b: list[float]) -> float | None:
    """The cosine of two vectors; None when either is all zeros."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return None if na == 0 or nb == 0 else dot / (na * nb)


class _LocalEncoder:
    """A transformers encoder loaded once: texts → mean-pooled last hidden states."""

    def __init__(self, source: str, metric: str) -> None:
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer

            self._torch = torch
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            if self.tokenizer.pad_token is None:  # causal-model tokenizers often have none; the mask ignores it
                self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
            self.model = AutoModel.from_pretrained(source).eval()
        except Exception as exc:  # noqa: BLE001 - any load failure is one clear line
            text = " ".join(str(exc).split())[:300]
            raise MetricError(f"metric {metric!r}: cannot load the encoder {source!r}: {text}") from None

    def __call__(self, texts: list[str]) -> list[list[float]]:
        torch = self._torch
        batch = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        return [[float(x) for x in row] for row in pooled]


class _ApiEncoder:
    """An embedding model behind litellm (`openai/text-embedding-3-small`, a local server with `api_base`)."""

    def __init__(self, model: str, api_base: str | None, metric: str) -> None:
        import litellm

        self.model, self.api_base, self.metric, self._litellm = model, api_base, metric, litellm

    def __call__(self, texts: list[str]) -> list[list[float]]:
        try:
            response = self._litellm.embedding(model=self.model, input=texts, api_base=self.api_base)
        except Exception as exc:  # noqa: BLE001 - a failed call is the sample's metric error, one line
            text = " ".join(str(exc).split())[:300]
            raise MetricError(f"metric {self.metric!r}: embedding call to {self.model!r} failed: {text}") from None
        data = sorted(response.data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
        return [list(d["embedding"] if isinstance(d, dict) else d.embedding) for d in data]


@dataclass(frozen=True)
class EmbeddingSimilarity:
    """Max over references of cos(embed(output), embed(reference)), in [-1, 1]; unscored without references.
    Embeddings are computed once per distinct text."""

    name: str = "embedding_similarity"
    model: str | None = None
    api: str | None = None
    api_base: str | None = None
    base_dir: Path | None = None
    kind: Literal["sample"] = field(default="sample", init=False)
    _state: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.model is None) == (self.api is None):
            raise MetricError(f"metric {self.name!r}: give exactly one of `model` (a local encoder) or `api`")
        self._encoder()  # loaded (or litellm imported) when the metric is built, not within a sample's time limit

    def _encoder(self) -> Any:
        if "encoder" not in self._state:
            if self.api is not None:
                self._state["encoder"] = _ApiEncoder(self.api, self.api_base, self.name)
            else:
                assert self.model is not None
                local = (self.base_dir / self.model) if self.base_dir is not None else Path(self.model)
                source = str(local) if local.exists() else self.model
                self._state["encoder"] = _LocalEncoder(source, self.name)
        return self._state["encoder"]

    def _embed(self, texts: list[str]) -> list[list[float]]:
        memo: dict[str, list[float]] = self._state.setdefault("memo", {})
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        if missing:
            for text, vector in zip(missing, self._encoder()(missing), strict=True):
                memo[text] = vector
        return [memo[t] for t in texts]

    def score(self, s: MetricInput) -> float | None:
        if s.prediction is None or not s.references:
            return None
        output, *refs = self._embed([s.prediction, *s.references])
        values = [v for v in (cosine(output, r) for r in refs) if v is not None]
        return max(values) if values else None
