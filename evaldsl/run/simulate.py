"""A simulated user: after each reply of the evaluated model, a second model (the eval's `simulated_user`,
instructed by `user_prompt`) answers as the user, `user_turns` times; the evaluated model's last reply is the
output, and the sample's messages become the whole conversation (what records and judges see)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..compile.templating import TemplateError
from ..datasets.rows import sample_value
from ..plan.graph import ModelNode
from ..providers.records import GenerateRequest, Generation, Message
from .model_calls import ModelCalls
from .samples import Sample

_FLIP = {"user": "assistant", "assistant": "user"}


def user_view(sample: Sample, conversation: Sequence[Message], node: ModelNode) -> tuple[Message, ...]:
    """The conversation as the simulated user sees it: its instructions as the system message, the evaluated
    model's replies as the other side (roles swapped), the original system message left out."""
    messages: list[Message] = []
    if node.user_prompt is not None:
        messages.append({"role": "system", "content": str(sample_value(node.user_prompt, sample.row))})
    messages += [{"role": _FLIP[m["role"]], "content": m["content"]} for m in conversation if m["role"] in _FLIP]
    return tuple(messages)


async def simulate_user(
    calls: ModelCalls, node: ModelNode, samples: Sequence[Sample], first: Sequence[Any]
) -> list[Any]:
    """Continue each sample's conversation for `node.user_turns` user turns; returns the last reply of each
    sample (a failed user or model turn ends that sample with its error)."""
    assert node.user_model is not None
    conversations = [list(s.messages) for s in samples]
    current: list[Any] = list(first)
    for turn in range(node.user_turns):
        live = [k for k, out in enumerate(current) if isinstance(out, Generation) and out.error is None]
        if not live:
            break
        requests = []
        for k in live:
            conversations[k].append({"role": "assistant", "content": current[k].text})
            try:
                view = user_view(samples[k], conversations[k], node)
            except TemplateError as exc:
                current[k] = Generation(error=f"simulated user prompt: {exc}")
                continue
            requests.append((k, GenerateRequest(messages=view, params=node.user_model.generation,
                                                variables=samples[k].variables,
                                                draw=f"row:{samples[k].row_id}:user:{turn}")))  # fmt: skip
        task = calls.progress.start(f"{node.eval} · {node.user_model.name} (user, turn {turn + 1})", len(requests))
        answers, _ = await calls.ask(node.user_model, "generate", [r for _, r in requests], task)
        calls.progress.finish(task)
        asks = []
        for (k, _), answer in zip(requests, answers, strict=True):
            if answer.error is not None:
                current[k] = Generation(error=f"simulated user: {answer.error}")
                continue
            conversations[k].append({"role": "user", "content": answer.text})
            draw = None if node.model.generation.deterministic else f"row:{samples[k].row_id}:turn:{turn + 1}"
            asks.append((k, GenerateRequest(messages=tuple(conversations[k]), params=node.model.generation,
                                            variables=samples[k].variables, draw=draw)))  # fmt: skip
        task = calls.progress.start(f"{node.eval} · {node.model.name} (turn {turn + 2})", len(asks))
        replies, _ = await calls.ask(node.model, "generate", [r for _, r in asks], task)
        calls.progress.finish(task)
        for (k, _), reply in zip(asks, replies, strict=True):
            current[k] = reply
    for sample, conversation in zip(samples, conversations, strict=True):
        sample.messages, sample.conversation = tuple(conversation), True
    return current
