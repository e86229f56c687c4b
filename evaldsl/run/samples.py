"""Rows + a render node → samples: prompt messages, references, choices or text, a row identity and a content
key per sample."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..compile.spec import SampleValue
from ..compile.templating import TemplateError
from ..datasets.rows import sample_value
from ..hashing import content_hash
from ..limits import RENDER_SECONDS, LimitExceeded, time_limit_each
from ..plan.graph import RenderNode
from ..providers.records import Message


@dataclass
class Sample:
    """One rendered sample. `error` set means it could not be rendered (counted, never scored)."""

    index: int
    row: dict[str, Any]
    row_id: str = ""
    key: str = ""
    messages: tuple[Message, ...] = ()
    references: tuple[str, ...] = ()
    incorrect: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    labels: tuple[int, ...] = ()
    contexts: tuple[str, ...] = ()  # choice: one context per choice (then `choices` holds the one continuation)
    text: str | None = None
    error: str | None = None
    epoch: int = 0  # which attempt at the row this is (an eval's `epochs`)
    conversation: bool = False  # the prompt holds a conversation (`messages`): judges see all of it

    @property
    def variables(self) -> dict[str, Any]:
        return {**self.row, "row": self.row}

    @property
    def context(self) -> str:
        """The prompt as plain text (choice mode scores continuations after it)."""
        return "\n\n".join(m["content"] for m in self.messages)

    @property
    def question(self) -> str:
        """What a judge is shown as the question: the last user message, or the whole conversation."""
        if self.conversation:
            return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self.messages if m["role"] != "system")
        users = [m["content"] for m in self.messages if m["role"] == "user"]
        return users[-1] if users else ""


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple("" if v is None else str(v) for v in value)
    raise TemplateError(f"`{what}` must give a string or a list of strings, got {type(value).__name__}")


def _labels(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # A single index: the correct choice's position.
        return tuple(1 if i == int(value) else 0 for i in range(n))
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return _labels(int(value), n)
    if isinstance(value, (list, tuple)):
        labels = tuple(int(v) for v in value)
        if len(labels) != n:
            raise TemplateError(f"`labels` has {len(labels)} entries but there are {n} choices")
        return labels
    raise TemplateError(f"`labels` must be a list of 0/1 or the index of the correct choice, got {value!r}")


def _value(v: SampleValue | None, row: dict[str, Any]) -> Any:
    return None if v is None else sample_value(v, row)


def _messages(node: RenderNode, row: dict[str, Any], shots: Sequence[dict[str, Any]]) -> tuple[Message, ...]:
    prompt = node.prompt
    if prompt is None:
        return ()
    messages: list[Message] = []
    if prompt.system is not None:
        messages.append({"role": "system", "content": str(sample_value(prompt.system, row))})
    user = prompt.user
    fewshot = prompt.fewshot
    if user is not None and fewshot is not None and fewshot.delimiter is not None:
        # shots as plain text in one user message (lm-evaluation-harness)
        parts = [str(sample_value(user, shot)) + fewshot.delimiter + _shot_answer(node, shot) for shot in shots]
        parts.append(str(sample_value(user, row)))
        messages.append({"role": "user", "content": fewshot.separator.join(parts)})
        return tuple(messages)
    for shot in shots if user is not None else ():
        assert user is not None
        messages.append({"role": "user", "content": str(sample_value(user, shot))})
        answer = _strings(_value(node.target, shot), "target")
        messages.append({"role": "assistant", "content": answer[0] if answer else ""})
    if prompt.messages is not None:
        messages.extend(conversation(sample_value(prompt.messages, row)))
    if prompt.user is not None:
        messages.append({"role": "user", "content": str(sample_value(prompt.user, row))})
    return tuple(messages)


ROLES = ("system", "user", "assistant", "tool")


def conversation(value: Any) -> list[Message]:
    """A row's conversation as messages: a list of {role, content} maps (content as text)."""
    if not isinstance(value, (list, tuple)):
        raise TemplateError(f"`messages` must give a list of {{role, content}} maps, got {type(value).__name__}")
    out: list[Message] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or item.get("role") not in ROLES or "content" not in item:
            raise TemplateError(f"message {i + 1} of the conversation must be a map with a role "
                                f"({', '.join(ROLES)}) and a content, got {str(item)[:80]}")  # fmt: skip
        content = item["content"]
        out.append({"role": item["role"], "content": content if isinstance(content, str) else str(content)})
    return out


def each_turn(samples: Sequence[Sample]) -> list[Sample]:
    """One sample per assistant turn of each conversation: the messages before it, that turn's text as the
    reference, and the row identity `ROW#tK` (K-th assistant turn)."""
    out: list[Sample] = []
    for sample in samples:
        turns = [j for j, m in enumerate(sample.messages) if m["role"] == "assistant"]
        if sample.error is not None or not turns:
            out.append(replace(sample, error=sample.error or "the conversation has no assistant turn to score"))
            continue
        for k, j in enumerate(turns):
            out.append(replace(sample, messages=sample.messages[:j], references=(sample.messages[j]["content"],),
                               row_id=f"{sample.row_id}#t{k}"))  # fmt: skip
    return [replace(s, index=i) for i, s in enumerate(out)]


def _shot_answer(node: RenderNode, shot: dict[str, Any]) -> str:
    """What a plain-text shot shows after its prompt: its first target, or in choice mode its true choice."""
    if node.mode == "choice":
        choices = _strings(_value(node.choices, shot), "choices")
        labels = _labels(_value(node.labels, shot), len(choices))
        return choices[labels.index(1)] if 1 in labels else ""
    answer = _strings(_value(node.target, shot), "target")
    return answer[0] if answer else ""


def row_ids(rows: Sequence[dict[str, Any]], derived: frozenset[str] = frozenset()) -> list[str]:
    """Each row's identity: a hash of its dataset fields (derived fields left out), with `~k` added for the k-th
    repeat of an identical row. Equal data gives equal identities whatever the prompt, model or settings, so
    runs pair by row."""
    seen: dict[str, int] = {}
    out = []
    for row in rows:
        digest = content_hash({k: v for k, v in row.items() if k not in derived})[:20]
        k = seen.get(digest, 0)
        seen[digest] = k + 1
        out.append(digest if k == 0 else f"{digest}~{k}")
    return out


def _render(node: RenderNode, sample: Sample, shots: Sequence[dict[str, Any]]) -> None:
    """Fill the sample's messages and its mode's values from its row (raises on a value that cannot be made)."""
    row = sample.row
    sample.messages = _messages(node, row, shots)
    if node.mode == "generate":
        sample.references = _strings(_value(node.target, row), "target")
        sample.incorrect = _strings(_value(node.incorrect, row), "incorrect")
    elif node.mode == "choice":
        sample.choices = _strings(_value(node.choices, row), "choices")
        if not sample.choices:
            raise TemplateError("`choices` gave no choices")
        if node.contexts is not None:
            sample.contexts = _strings(_value(node.contexts, row), "contexts")
            if len(sample.choices) != 1 or not sample.contexts:
                raise TemplateError("with `contexts`, `choices` must give the one continuation scored after each")
            sample.choices = sample.choices * len(sample.contexts)
        sample.labels = _labels(_value(node.labels, row), len(sample.choices))
    else:
        text = _value(node.text, row)
        sample.text = "" if text is None else str(text)


def render_samples(
    node: RenderNode,
    rows: Sequence[dict[str, Any]],
    shots: Sequence[dict[str, Any]] = (),
    derived: frozenset[str] = frozenset(),
) -> list[Sample]:
    """Render every row (each within the per-sample time limit); a failing row becomes a sample with `error`
    set rather than stopping the run. `derived`: the dataset's derived field names (not part of a row's
    identity)."""
    samples = []
    conversation = node.prompt is not None and node.prompt.messages is not None
    with time_limit_each(RENDER_SECONDS, "rendering the sample") as limit:
        for index, (row, row_id) in enumerate(zip(rows, row_ids(rows, derived), strict=True)):
            sample = Sample(index=index, row=row, row_id=row_id, conversation=conversation)
            try:
                limit.arm()
                _render(node, sample, shots)
            except (TemplateError, LimitExceeded, TypeError, ValueError) as exc:
                sample.error = str(exc)
            finally:
                limit.disarm()
            samples.append(_keyed(sample))
    return each_turn(samples) if node.turns == "each" else samples


def _keyed(sample: Sample) -> Sample:
    """The sample with its key: a hash of its row and of what it renders to."""
    sample.key = content_hash(
        {"row": sample.row, "messages": sample.messages, "text": sample.text, "choices": sample.choices,
         **({"contexts": sample.contexts} if sample.contexts else {})}
    )
    return sample


def repeat(samples: Sequence[Sample], epochs: int) -> list[Sample]:
    """Each sample `epochs` times in a row (attempt e of row r at index r * epochs + e)."""
    if epochs <= 1:
        return list(samples)
    return [replace(s, index=s.index * epochs + e, epoch=e) for s in samples for e in range(epochs)]
