"""lm-evaluation-harness task configs (YAML) → `.eval` templates.

The common subset converts: `dataset_path`/`dataset_name`, the test (else validation) split, `description`,
`doc_to_text`/`doc_to_choice`/`doc_to_target` (Jinja or field names), `output_type` `multiple_choice` (acc,
acc_norm), `generate_until` (`until`, `max_gen_toks`, `exact_match` with its options, a `regex` filter with
`group_select`, `take_first`, bleu/chrf/rouge), `loglikelihood_rolling` (word/byte perplexity, bits per byte) and
`loglikelihood` (one continuation: perplexity, acc as greedy_match), lm-eval's default metrics per output type when
`metric_list` is absent, `num_fewshot` with `fewshot_split` (`first_n` sampler), `target_delimiter`,
`fewshot_delimiter`, `include:`, and group configs (`group:` with a `task:` list) as a template running each of
their tasks. What cannot be converted — `!function` hooks, other output types and metrics — is reported with its
YAML line and left in the spec as a marked stub the check points at.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# lm-eval's metric names → evaldsl's, per output type (options other than aggregation/higher_is_better are not
# converted), and lm-eval's metrics for an output type when a task has no `metric_list`.
_SAME = ("bleu", "chrf", "rouge1", "rouge2", "rougeL", "rougeLsum")
METRICS: dict[str, dict[str, str]] = {
    "multiple_choice": {"acc": "accuracy", "acc_norm": "accuracy_norm"},
    "generate_until": {name: name for name in _SAME},
    "loglikelihood_rolling": {name: name for name in ("word_perplexity", "byte_perplexity", "bits_per_byte")},
    "loglikelihood": {"acc": "greedy_match", "perplexity": "target_perplexity"},
}
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "multiple_choice": ("acc", "acc_norm"),
    "generate_until": ("exact_match",),
    "loglikelihood_rolling": ("word_perplexity", "byte_perplexity", "bits_per_byte"),
    "loglikelihood": ("perplexity", "acc"),
}
_PLAIN_OPTIONS = frozenset({"metric", "aggregation", "higher_is_better"})


class ConvertError(Exception):
    """A task file that cannot be read at all (missing, not YAML, no `task`)."""


@dataclass(frozen=True)
class Hook:
    """A `!function module.name` value, kept with where it was written."""

    target: str
    line: int


@dataclass
class Converted:
    """One task: its `.eval` text and what could not be converted (`file:line: what`)."""

    task: str
    text: str
    problems: list[str] = field(default_factory=list)


class _Loader(yaml.SafeLoader):
    pass


def _function(loader: yaml.SafeLoader, node: yaml.Node) -> Hook:
    return Hook(str(loader.construct_scalar(node)), node.start_mark.line + 1)  # type: ignore[arg-type]


_Loader.add_constructor("!function", _function)


def load_task(path: Path, depth: int = 0) -> dict[str, Any]:
    """The task's config with its `include:` chain merged (the including file wins)."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except OSError as exc:
        raise ConvertError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConvertError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise ConvertError(f"{path}: a task config is a YAML mapping")
    include = data.pop("include", None)
    if isinstance(include, str) and depth < 8:
        return {**load_task(path.parent / include, depth + 1), **data}
    return data


def _ident(name: str) -> str:
    clean = re.sub(r"\W", "_", name)
    return clean if clean and not clean[0].isdigit() else f"t_{clean}"


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _expr(value: Any) -> str:
    """A doc_to_* value as a backtick expression: a list literal, `{{ expr }}` unwrapped, or a field name."""
    if isinstance(value, list):
        return "`" + json.dumps(value, ensure_ascii=False) + "`"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"`{value}`"
    text = str(value).strip()
    whole = re.fullmatch(r"\{\{(.*)\}\}", text, re.S)
    if whole and "{{" not in whole.group(1):
        return "`" + whole.group(1).strip() + "`"
    if "{{" in text or "{%" in text:
        return _string(text)  # a template: rendered to text
    return f"`{text}`"


def _template(value: Any) -> str:
    """A doc_to_text value as a template string (a bare field name becomes `{{ field }}`)."""
    text = str(value)
    if "{{" in text or "{%" in text:
        return text
    return "{{ " + text.strip() + " }}"


def convert(path: Path) -> Converted:
    """Convert one task file (see the module's docstring); a group file: see `convert_files`."""
    cfg = load_task(path)
    if is_group(cfg):
        raise ConvertError(f"{path}: a group config (convert it with its tasks: `convert_files`)")
    return convert_config(cfg, path)


def convert_config(cfg: dict[str, Any], path: Path) -> Converted:
    """Convert one loaded task config; `path` is the file it came from (for messages)."""
    task = cfg.get("task")
    if not isinstance(task, str):
        raise ConvertError(f"{path}: no `task` name")
    name = _ident(task)
    out = Converted(task=task, text="")

    def stub(key: str, hook: Hook) -> str:
        out.problems.append(f"{path}:{hook.line}: `{key}: !function {hook.target}` cannot be converted; "
                            f"fill in the marked stub")  # fmt: skip
        return f"FILL_ME_{_ident(key)}"

    def value(key: str, default: Any = None) -> Any:
        found = cfg.get(key, default)
        return stub(key, found) if isinstance(found, Hook) else found

    output_type = cfg.get("output_type", "generate_until")
    rolling = output_type == "loglikelihood_rolling"
    split = cfg.get("test_split") or cfg.get("validation_split") or cfg.get("training_split") or "test"
    shots = 0 if rolling else int(cfg.get("num_fewshot") or 0)  # lm-eval: rolling tasks are zero-shot
    shot_split = cfg.get("fewshot_split") or cfg.get("training_split") or cfg.get("validation_split")
    target_delim = str(cfg.get("target_delimiter", " "))
    fewshot_delim = str(cfg.get("fewshot_delimiter", "\n\n"))
    if isinstance(cfg.get("process_docs"), Hook):
        stub("process_docs", cfg["process_docs"])
    text_value = value("doc_to_text", "")
    description = str(cfg.get("description") or "")
    user = description + _template(text_value)  # a stub is a field name no row has: `check` points at it

    body = [f"template {name}(models, limit = 0) {{",
            f"  description = {_string(f'Converted from lm-evaluation-harness task {task} ({path.name}).')}", ""]
    ds_lines = ["  dataset data {", f"    hf = {_string(str(cfg.get('dataset_path', '')))}"]
    if cfg.get("dataset_name"):
        ds_lines.append(f"    config = {_string(str(cfg['dataset_name']))}")
    ds_lines += [f"    split = {_string(str(split))}", "  }"]
    body += ds_lines
    if rolling:
        body.append("")
    elif shots and shot_split:
        body += ["  dataset shots {", *ds_lines[1:-2], f"    split = {_string(str(shot_split))}", "  }"]
        sampler = (cfg.get("fewshot_config") or {}).get("sampler")
        first = "first = true, " if sampler == "first_n" else ""
        fewshot = (f"    fewshot {{ from = shots, k = {shots}, {first}delimiter = {_string(target_delim)}, "
                   f"separator = {_string(fewshot_delim)} }}")  # fmt: skip
        body += ["  prompt ask {", f"    user = {_string(user)}", fewshot, "  }", ""]
    else:
        body += ["  prompt ask {", f"    user = {_string(user)}", "  }", ""]
    metrics = []
    table = METRICS.get(output_type, {})
    entries = cfg.get("metric_list") or [{"metric": m} for m in DEFAULT_METRICS.get(output_type, ())]
    for entry in entries:
        metric = entry.get("metric") if isinstance(entry, dict) else entry
        options = sorted(set(entry) - _PLAIN_OPTIONS) if isinstance(entry, dict) else []
        if isinstance(metric, Hook):
            body.append(f'  metric {_ident("custom")} = python("FILL_ME_module:{metric.target.split(".")[-1]}")')
            stub("metric", metric)
            metrics.append("custom")
        elif output_type == "generate_until" and metric == "exact_match":
            metrics.append(_exact_match(entry, cfg, body))
        elif metric in table and not options:
            metrics.append(table[metric])
        else:
            extra = f" with {', '.join(options)}" if options and metric in table else ""
            out.problems.append(f"{path}: metric {metric!r}{extra} for {output_type} is not converted")
    target = value("doc_to_target", "")
    eval_lines = [f"  eval {name} {{"]
    if output_type == "multiple_choice":
        choices = value("doc_to_choice", [])
        eval_lines += ['    mode = "choice"', f"    choices = {_expr(choices)}", f"    labels = {_expr(target)}"]
        if target_delim != " ":
            eval_lines.append(f"    delimiter = {_string(target_delim)}")
    elif output_type == "generate_until":
        gen = cfg.get("generation_kwargs") or {}
        until = gen.get("until", [fewshot_delim])  # lm-eval's default: stop at the few-shot delimiter
        eval_lines.append(f"    target = {_expr(target)}")
        if until:
            until = [until] if isinstance(until, str) else list(until)
            eval_lines.append(f"    stop = {json.dumps(until, ensure_ascii=False)}")
        eval_lines.append(f"    max_tokens = {int(gen.get('max_gen_toks', 256))}")
        eval_lines.append("    chat_template = false")
    elif output_type == "loglikelihood":  # one continuation, doc_to_target exactly (no target delimiter)
        continuation = _expr(target)
        if not continuation.startswith("`"):
            out.problems.append(f"{path}: a loglikelihood doc_to_target mixing text and {{{{ }}}} is not converted")
            return out
        eval_lines += ['    mode = "choice"', f"    choices = `[{continuation[1:-1]}]`", "    labels = `0`",
                       '    delimiter = ""']  # fmt: skip
    elif rolling:  # lm-eval scores doc_to_target as a whole text, in rolling windows
        rolling_text = target if target not in (None, "") else cfg.get("doc_to_text")
        eval_lines += ['    mode = "perplexity"', "    text = " + (_expr(rolling_text) if rolling_text else '""')]
    else:
        out.problems.append(f"{path}: output_type {output_type!r} is not converted")
        return out
    eval_lines += ["    dataset = data", *([] if rolling else ["    prompt = ask"]), "    models = models",
                   f"    metrics = [{', '.join(metrics)}]", "    limit = limit", "  }", "}"]  # fmt: skip
    header = [f"# {task}: converted from an lm-evaluation-harness task config ({path.name}).",
              *(f"# NOT CONVERTED: {p}" for p in out.problems), ""]  # fmt: skip
    out.text = "\n".join(header + body + eval_lines) + "\n"
    return out


def _exact_match(entry: Any, cfg: dict[str, Any], body: list[str]) -> str:
    """`exact_match` with its options (and the task's regex filter) as an `extract_match` metric."""
    options = entry if isinstance(entry, dict) else {}
    args = []
    for step in ((cfg.get("filter_list") or [{}])[0].get("filter") or []):
        if step.get("function") == "regex":
            args.append(f"pattern = {_string(str(step.get('regex_pattern', '')))}")
            if step.get("group_select"):
                args.append(f"select = {int(step['group_select'])}")
    if options.get("ignore_case"):
        args.append("ignore_case = true")
    if options.get("ignore_punctuation"):
        args.append("ignore_punctuation = true")
    if options.get("regexes_to_ignore"):
        args.append("ignore = " + json.dumps(list(options["regexes_to_ignore"]), ensure_ascii=False))
    body.append(f"  metric exact = extract_match({', '.join(args)})")
    return "exact"


def is_group(cfg: dict[str, Any]) -> bool:
    """A group config: `group: NAME` with `task:` a list of task names or inline task configs."""
    return "group" in cfg and isinstance(cfg.get("task"), list)


def convert_files(paths: list[Path]) -> tuple[list[Converted], list[str]]:
    """Convert task and group files together: each task (a group's inline tasks included), then each group as a
    template running its tasks. Returns the conversions and the files that could not be read (one line each)."""
    tasks: list[tuple[dict[str, Any], Path]] = []
    groups: list[tuple[dict[str, Any], Path]] = []
    errors: list[str] = []
    pending: list[tuple[dict[str, Any] | None, Path]] = [(None, path) for path in paths]
    while pending:
        loaded, path = pending.pop(0)
        try:
            cfg = loaded if loaded is not None else load_task(path)
        except ConvertError as exc:
            errors.append(str(exc))
            continue
        if not is_group(cfg):
            tasks.append((cfg, path))
            continue
        groups.append((cfg, path))
        for entry in cfg["task"]:
            if isinstance(entry, dict):  # an inline task (or group) config, with its own `include:`
                entry = dict(entry)
                include = entry.pop("include", None)
                try:
                    base = load_task(path.parent / include) if isinstance(include, str) else {}
                except ConvertError as exc:
                    errors.append(str(exc))
                    continue
                pending.append(({**base, **entry}, path))
    converted: list[Converted] = []
    for cfg, path in tasks:
        try:
            converted.append(convert_config(cfg, path))
        except ConvertError as exc:
            errors.append(str(exc))
    known = {c.task for c in converted} | {str(cfg["group"]) for cfg, _ in groups}
    converted += [_group(cfg, path, known) for cfg, path in groups]
    return converted, errors


def _group(cfg: dict[str, Any], path: Path, known: set[str]) -> Converted:
    """A group as a template that imports its converted tasks and instantiates each with `models` and `limit`."""
    group = str(cfg["group"])
    out = Converted(task=group, text="")
    imports: list[str] = []
    evals: list[str] = []
    for entry in cfg["task"]:
        task = str(entry.get("group" if "group" in entry else "task")) if isinstance(entry, dict) else str(entry)
        if task not in known:
            out.problems.append(f"{path}: group task {task!r} was not converted with it; pass its YAML file too")
            continue
        imports.append(f'import "./{task}.eval"')
        evals.append(f"  eval {_ident(task)} = {_ident(task)}(models = models, limit = limit)")
    if "aggregate_metric_list" in cfg:
        out.problems.append(f"{path}: the group's `aggregate_metric_list` is not converted (each task is reported)")
    header = [f"# {group}: converted from an lm-evaluation-harness group config ({path.name}).",
              *(f"# NOT CONVERTED: {p}" for p in out.problems), *imports, ""]  # fmt: skip
    body = [f"template {_ident(group)}(models, limit = 0) {{",
            f"  description = {_string(f'lm-evaluation-harness group {group}: its tasks.')}", *evals, "}"]  # fmt: skip
    out.text = "\n".join(header + body) + "\n"
    return out
