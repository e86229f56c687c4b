"""Definitions → typed `Spec`: every attribute checked against its block's schema (unknown, type, required)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from ..diagnostics import Diagnostic, Span, did_you_mean
from ..judges.config import JudgeError
from . import ast
from .credentials import credential_problems
from .environment import env_value, is_env_call
from .lower_assert import lower_assert
from .model_config import (
    APP_PROVIDERS,
    DEFAULT_MODEL_ID,
    PROVIDER_ONLY,
    GenerationParams,
    ModelConfig,
    provider_settings,
)
from .resolve import Definition, Program
from .schema import BLOCKS
from .spec import (
    EVAL_GENERATION_OVERRIDES,
    DatasetDef,
    EvalDef,
    Fewshot,
    JudgeDef,
    MetricDef,
    ModelDef,
    NameRef,
    PromptDef,
    SampleValue,
    Spec,
    TemplateInfo,
    local_hf_folder,
)
from .substitute import constant
from .templating import is_template
from .tools import tools_setting
from .values import CONVERTERS, BadValue, as_const, as_ref, one_of
from .variants import expand, vary_block


class _Values(dict):  # type: ignore[type-arg]
    """Converted attributes of one block, remembering those that were written but had a bad value."""

    def __init__(self) -> None:
        super().__init__()
        self.invalid: set[str] = set()


class Lowerer:
    """Turns each `Definition` into its typed form, collecting diagnostics."""

    def __init__(self, program: Program, environ: Mapping[str, str]):
        self.program = program
        self.environ = environ  # what `env("NAME")` reads
        self.diagnostics: list[Diagnostic] = []

    # ---- helpers ----
    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, span=span, hint=hint))

    def sample(self, v: ast.Value, d: Definition) -> SampleValue:
        params, spans = dict(d.params), dict(d.param_spans)
        if isinstance(v, ast.Str):
            kind: Literal["template", "const"] = "template" if is_template(v.value) else "const"
            return SampleValue(kind=kind, source=v.value, value=v.value, span=v.span, params=params, param_spans=spans)
        if isinstance(v, ast.Expr):
            return SampleValue(kind="expr", source=v.source, span=v.span, params=params, param_spans=spans)
        value = constant(v)
        if isinstance(value, (int, float, bool, list, dict)) and not isinstance(v, ast.Ref):
            return SampleValue(kind="const", value=value, span=v.span, params=params, param_spans=spans)
        raise BadValue("a string, a `{{ template }}` or a backtick expression")

    def attributes(
        self,
        kind: str,
        body: tuple[ast.Entry, ...],
        schema: Mapping[str, Callable[[ast.Value], Any]],
        *,
        allow_blocks: Mapping[str, str] | None = None,
        allow_assign: str | None = None,
        allow_assert: bool = False,
    ) -> tuple[dict[str, tuple[Any, ast.Attribute]], list[ast.Entry]]:
        """Convert a block's attributes by schema; return them with the other entries the block may hold."""
        values: dict[str, tuple[Any, ast.Attribute]] = _Values()
        others: list[ast.Entry] = []
        seen: dict[str, ast.Attribute] = {}
        for entry in body:
            if isinstance(entry, ast.Attribute):
                if entry.name in seen:
                    self.diagnostics.append(
                        Diagnostic(
                            code="E205",
                            message=f"attribute `{entry.name}` is set twice",
                            span=entry.name_span,
                            related=(("first set", seen[entry.name].name_span),),
                        )
                    )
                    continue
                seen[entry.name] = entry
                secrets = credential_problems(kind, entry, body)
                if secrets:
                    self.diagnostics += secrets
                    values.invalid.add(entry.name)  # type: ignore[attr-defined]
                    continue
                convert = schema.get(entry.name)
                if convert is None:
                    self.error(
                        "E302",
                        f"unknown attribute `{entry.name}` in {kind}",
                        entry.name_span,
                        did_you_mean(entry.name, schema) or f"{kind} attributes: {', '.join(sorted(schema))}",
                    )
                    continue
                if is_env_call(entry.value):
                    assert isinstance(entry.value, ast.Call)
                    literal, problem = env_value(kind, entry.name, entry.value, self.environ)
                    if literal is None:
                        values.invalid.add(entry.name)  # type: ignore[attr-defined]
                        self.diagnostics.append(problem)  # type: ignore[arg-type]
                        continue
                    entry = entry.model_copy(update={"value": literal})
                try:
                    values[entry.name] = (convert(entry.value), entry)
                except BadValue as bad:
                    values.invalid.add(entry.name)  # type: ignore[attr-defined]
                    got = bad.got or ast.describe(entry.value)
                    self.error(
                        "E303",
                        f"`{entry.name}` must be {bad.expected}, got {got}",
                        bad.span or entry.value.span,
                        bad.hint,
                    )
            elif isinstance(entry, ast.Block) and allow_blocks and entry.keyword in allow_blocks and not entry.name:
                others.append(entry)
            elif isinstance(entry, ast.Assign) and allow_assign and entry.keyword == allow_assign:
                others.append(entry)
            elif isinstance(entry, ast.Assert) and allow_assert:
                others.append(entry)
            else:
                what = {
                    "block": "a nested block",
                    "assign": "a definition",
                    "template": "a template",
                    "assert": "an assert",
                    "import": "an import",
                }[entry.entry]
                where = getattr(entry, "keyword_span", entry.span)
                hint = None
                if isinstance(entry, ast.Assert):
                    hint = "asserts belong in `eval` blocks"
                elif allow_blocks:
                    hint = f"allowed here: {', '.join(allow_blocks)}"
                elif isinstance(entry, ast.Block) and entry.keyword == "fewshot":
                    hint = "`fewshot { ... }` belongs in a `prompt` block"
                elif isinstance(entry, ast.Assign) and entry.keyword == "field":
                    hint = "derived fields are defined in a `dataset` block"
                elif isinstance(entry, (ast.Block, ast.Assign, ast.TemplateDef)):
                    hint = f"a {kind} block holds `name = value` attributes; definitions go at the top level"
                self.error("E204", f"{what} is not allowed in {kind}", where, hint)
        return values, others

    def converters(self, kind: str, d: Definition) -> dict[str, Callable[[ast.Value], Any]]:
        """How each attribute of a `kind` block is read, from its declared type (`compile.schema`)."""
        sample = lambda v: self.sample(v, d)  # noqa: E731

        def prompt_value(v: ast.Value) -> NameRef | SampleValue:
            return as_ref(v) if isinstance(v, ast.Ref) else sample(v)

        by_type: dict[str, Callable[[ast.Value], Any]] = {**CONVERTERS, "value": sample, "prompt": prompt_value}
        return {a.name: one_of(*a.choices) if a.type == "choice" else by_type[a.type] for a in BLOCKS[kind]}

    def required(self, kind: str, name: str, values: Mapping[str, Any], attr: str, span: Span) -> bool:
        if attr in values:
            return True
        if attr in getattr(values, "invalid", ()):
            return False  # written with a bad value: already reported
        self.error("E304", f"{kind} `{name}` needs `{attr}`", span, f"add `{attr} = ...` to the block")
        return False

    # ---- kinds ----
    def dataset(self, d: Definition) -> DatasetDef | None:
        node = d.node
        if not isinstance(node, ast.Block):
            self.error("E303", 'a dataset is a block: `dataset NAME { path = "..." }`', node.span)
            return None
        sample = lambda v: self.sample(v, d)  # noqa: E731
        values, others = self.attributes("dataset", node.body, self.converters("dataset", d), allow_assign="field")
        fields = []
        for entry in others:
            assert isinstance(entry, ast.Assign)
            try:
                fields.append((entry.name, sample(entry.value)))
            except BadValue as bad:
                self.error("E303", f"field `{entry.name}` must be {bad.expected}", entry.value.span)
        sources = [k for k in ("path", "rows", "hf") if k in values]
        if len(sources) != 1:
            self.error(
                "E304",
                f"dataset `{d.name}` needs exactly one of `path`, `rows` or `hf`",
                node.name_span,
                'give `path = "data/file.jsonl"`, inline `rows = [ { ... }, ... ]` or `hf = "owner/name"`',
            )
            return None
        if "hf" not in values:
            for only_hf in ("config", "split", "revision"):
                if only_hf in values:
                    message = f"`{only_hf}` applies to Hugging Face datasets only (`hf = ...`)"
                    hint = f"remove `{only_hf}` or read the data with `hf`"
                    self.error("E340", message, values[only_hf][1].name_span, hint)
        path = path_span = hf_local = None
        if "path" in values:
            raw, attr = values["path"]
            try:
                path = (d.base_dir / raw).resolve() if not Path(raw).is_absolute() else Path(raw)
            except (ValueError, OSError, RuntimeError) as exc:  # a NUL character, a symlink loop...
                self.error("E303", f"`path` is not a usable file path ({exc})", attr.value.span)
                return None
            path_span = attr.value.span
        if "hf" in values:
            raw, attr = values["hf"]
            path_span = attr.value.span
            # relative to the file the value is written in (a template argument: the instantiating file)
            written = Path(attr.value.span.file).parent if attr.value.span.file else d.base_dir
            hf_local = local_hf_folder(written if written.is_dir() else d.base_dir, raw)
        get = lambda k: values[k][0] if k in values else None  # noqa: E731
        return DatasetDef(
            name=d.name,
            span=node.name_span or node.span,
            path=path,
            path_span=path_span,
            hf=get("hf"),
            hf_local=hf_local,
            config=get("config") or None,  # "" (a template's default) = none
            split=get("split") or "test",
            revision=get("revision") or None,
            format=get("format"),
            rows=get("rows"),
            limit=get("limit") or None,
            shuffle=get("shuffle"),
            where=get("where"),
            fields=tuple(fields),
            description=get("description") or "",
        )

    def model(self, d: Definition) -> ModelDef | None:
        node = d.node
        span = node.name_span or node.span
        if isinstance(node, ast.Assign):
            if not isinstance(node.value, ast.Str):
                self.error(
                    "E303",
                    'a model shorthand is a litellm id string: model NAME = "openai/gpt-4o-mini"',
                    node.value.span,
                )
                return None
            config = ModelConfig(name=d.name, provider="litellm", id=node.value.value, base_dir=d.base_dir)
            return ModelDef(name=d.name, span=span, config=config)
        values, _ = self.attributes("model", node.body, self.converters("model", d))
        settings = {k: v for k, (v, _) in values.items() if k != "description"}
        provider = settings.get("provider")
        if provider is None:
            provider = "hf" if str(settings.get("id", "")).lower() == DEFAULT_MODEL_ID else "litellm"
            settings["provider"] = provider
        if provider in ("hf", "litellm", "vllm", "python") and not settings.get("id"):
            self.required("model", d.name, values, "id", span)
            return None
        if provider == "http" and not settings.get("url"):
            self.required("model", d.name, values, "url", span)
            return None
        if "tools" in settings:
            tools, problem = tools_setting(settings.pop("tools"), provider, d.base_dir, self.program.root,
                                           values["tools"][1].name_span)  # fmt: skip
            self.diagnostics += [problem] if problem else []
            settings.update({"tools": tools} if tools else {})
        if "response" in settings and provider != "mock":
            self.error("E302", '`response` only applies to `provider = "mock"`', values["response"][1].name_span)
        for attr, only in PROVIDER_ONLY.items():
            if attr in settings and provider in APP_PROVIDERS and provider not in only:
                self.error(
                    "E374",
                    f"`{attr}` does not apply to `provider = \"{provider}\"` (only {', '.join(only)})",
                    values[attr][1].name_span,
                    f"{provider} models take: {', '.join(provider_settings(provider))}",
                )
                settings.pop(attr)
        generation = {k: settings.pop(k) for k in list(settings) if k in GenerationParams.model_fields}
        try:
            config = ModelConfig(
                name=d.name, base_dir=d.base_dir, generation=GenerationParams(**generation), **settings
            )
        except ValidationError as exc:  # pragma: no cover - the schema above mirrors ModelConfig
            self.error("E303", f"invalid model settings: {exc.errors()[0]['msg']}", span)
            return None
        description = values["description"][0] if "description" in values else ""
        value_spans = {k: attr.value.span for k, (_, attr) in values.items()}
        return ModelDef(name=d.name, span=span, config=config, description=description, value_spans=value_spans)

    def prompt(self, d: Definition) -> PromptDef | None:
        node = d.node
        span = node.name_span or node.span
        if isinstance(node, ast.Assign):
            try:
                return PromptDef(name=d.name, span=span, user=self.sample(node.value, d))
            except BadValue as bad:
                self.error("E303", f"a prompt must be {bad.expected}", node.value.span)
                return None
        values, others = self.attributes(
            "prompt",
            node.body,
            self.converters("prompt", d),
            allow_blocks={"fewshot": "fewshot { from = DATASET, k = 3, seed = 0 }"},
        )
        fewshot = None
        for block in others:
            assert isinstance(block, ast.Block)
            shot_values, _ = self.attributes("fewshot", block.body, self.converters("fewshot", d))
            if self.required("fewshot", d.name, shot_values, "from", block.keyword_span):
                given = {k: v for k, (v, _) in shot_values.items() if k != "from"}
                fewshot = Fewshot(dataset=shot_values["from"][0], span=block.keyword_span, **given)
        if "messages" not in values and not self.required("prompt", d.name, values, "user", span):
            return None
        return PromptDef(
            name=d.name,
            span=span,
            system=values["system"][0] if "system" in values else None,
            user=values["user"][0] if "user" in values else None,
            messages=values["messages"][0] if "messages" in values else None,
            fewshot=fewshot,
            description=values["description"][0] if "description" in values else "",
        )

    def metric(self, d: Definition) -> MetricDef | None:
        node = d.node
        span = node.name_span or node.span
        assert isinstance(node, ast.Assign) or isinstance(node, ast.Block)
        value = node.value if isinstance(node, ast.Assign) else None
        if isinstance(value, ast.Ref):
            return MetricDef(
                name=d.name, span=span, family=value.name, family_span=value.span, base_dir=d.base_dir
            )
        if not isinstance(value, ast.Call):
            self.error(
                "E303",
                'a metric is configured with a call, e.g. `metric rl = rouge(type = "rougeL")`',
                value.span if value is not None else span,
            )
            return None
        names = {  # an extractor's `metric = exact_match`: the name of the metric scoring the part
            k.name: k.value for k in value.kwargs if k.name == "metric" and isinstance(k.value, ast.Ref)
        }
        named = {k: v.name for k, v in names.items()}
        try:
            args = tuple(as_const(a) for a in value.args)
            params = {k.name: named[k.name] if k.name in named else as_const(k.value) for k in value.kwargs}
        except BadValue as bad:
            self.error("E303", f"metric arguments must be {bad.expected}", value.span)
            return None
        return MetricDef(
            name=d.name,
            span=span,
            family=value.func,
            family_span=value.func_span,
            call_span=value.span,
            args=args,
            params=params,
            base_dir=d.base_dir,
            ref_spans={k: v.span for k, v in names.items()},
        )

    def judge(self, d: Definition) -> JudgeDef | None:
        node = d.node
        if not isinstance(node, ast.Block):
            self.error("E303", 'a judge is a block: `judge NAME { model = ..., rubric = "..." }`', node.span)
            return None
        span = node.name_span or node.span
        values, _ = self.attributes("judge", node.body, self.converters("judge", d))
        ok = self.required("judge", d.name, values, "model", span)
        ok = self.required("judge", d.name, values, "rubric", span) and ok
        if "scale" in values and "choices" in values:
            self.error("E303", "a judge has either `scale` or `choices`, not both", values["choices"][1].name_span)
            ok = False
        if not ok:
            return None
        fields = {k: v for k, (v, _) in values.items()}
        if "choices" not in fields and "scale" not in fields and fields.get("mode", "single") == "single":
            fields["scale"] = (1, 5)
        judge = JudgeDef(name=d.name, span=span, **fields)
        try:
            judge.config()
        except JudgeError as exc:
            where = values.get("choices") or values.get("scale") or values.get("votes")
            self.error("E315", str(exc).removeprefix(f"judge {d.name!r}: "), where[1].value.span if where else span)
            return None
        return judge

    def eval(self, d: Definition) -> list[EvalDef] | None:
        node = d.node
        if not isinstance(node, ast.Block):
            self.error("E303", "an eval is a block or a template instance: `eval NAME = template(...)`", node.span)
            return None
        span = node.name_span or node.span
        values, others = self.attributes("eval", node.body, self.converters("eval", d), allow_assert=True,
                                         allow_blocks={"vary": "vary { temperature = [0, 0.7] }"})  # fmt: skip
        dims: list[tuple[str, list[Any]]] = []
        for block in [e for e in others if isinstance(e, ast.Block)]:
            found, problems = vary_block(block, self.converters("model", d))
            dims += found
            self.diagnostics += problems
        if "prompts" in values and "prompt" in values:
            self.error("E382", "an eval has `prompt` or `prompts`, not both", values["prompts"][1].name_span,
                       "list every prompt in `prompts`")  # fmt: skip
        lowered = (lower_assert(e, self.error) for e in others if isinstance(e, ast.Assert))
        asserts = [a for a in lowered if a is not None]
        ok = self.required("eval", d.name, values, "dataset", span)
        ok = self.required("eval", d.name, values, "models", span) and ok
        if not ok or getattr(values, "invalid", None):
            return None  # with a bad attribute value the eval's own checks would report spurious errors
        fields = {k: v for k, (v, _) in values.items()}
        fields["overrides"] = {k: fields.pop(k) for k in EVAL_GENERATION_OVERRIDES if k in fields}
        prompt = fields.pop("prompt", None)
        if isinstance(prompt, SampleValue):
            fields["inline_prompt"] = prompt
        elif prompt is not None:
            fields["prompt"] = prompt
        if "mode" in values:
            fields["mode_span"] = values["mode"][1].value.span
        if fields.get("limit") == 0:
            fields["limit"] = None
        ev = EvalDef(name=d.name, span=span, asserts=tuple(asserts), **fields)
        return expand(ev, ev.prompts, dims)

    def template(self, d: Definition) -> TemplateInfo:
        node = d.node
        assert isinstance(node, ast.TemplateDef)
        description = ""
        for e in node.body:
            if isinstance(e, ast.Attribute) and e.name == "description" and isinstance(e.value, ast.Str):
                description = e.value.value
        params = tuple((p.name, _render_default(p.default)) for p in node.params)
        return TemplateInfo(name=d.name, span=node.name_span, params=params, description=description)


def _render_default(value: ast.Value | None) -> str | None:
    if value is None:
        return None
    c = constant(value)
    if isinstance(c, str):
        return '"' + c.replace('"', '\\"') + '"'
    if isinstance(c, bool):
        return "true" if c else "false"
    if isinstance(value, ast.Ref):
        return value.name
    return str(c)


def lower(program: Program, environ: Mapping[str, str] | None = None) -> tuple[Spec, list[Diagnostic]]:
    """Build the typed Spec from a resolved program; `env("NAME")` reads `environ` (default: the process's)."""
    lw = Lowerer(program, os.environ if environ is None else environ)
    out: dict[str, dict[str, Any]] = {k: {} for k in ("dataset", "model", "prompt", "metric", "judge", "eval")}
    for kind, table in out.items():
        convert = getattr(lw, kind)
        for name, definition in program.definitions[kind].items():
            typed = convert(definition)
            if isinstance(typed, list):  # an eval with variants: one eval each
                table.update({variant.name: variant for variant in typed})
            elif typed is not None:
                table[name] = typed
    templates = {n: lw.template(d) for n, d in program.definitions["template"].items()}
    spec = Spec(
        path=program.root,
        datasets=out["dataset"],
        models=out["model"],
        prompts=out["prompt"],
        metrics=out["metric"],
        judges=out["judge"],
        evals=out["eval"],
        templates=templates,
    )
    return spec, lw.diagnostics
