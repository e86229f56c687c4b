"""Tools a model may call (`tools = [...]` on a model): inline maps or a .json file of the project, read and
checked when the spec compiles, so their content is part of the model's hash."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from ..project import is_within


class ToolsError(Exception):
    """Tools that cannot be read or are not tool definitions (one line)."""


def normalize_tool(tool: Any) -> dict[str, Any]:
    """A tool as `{name, description, parameters}`, from that form or OpenAI's `{type: function, function: {...}}`;
    `parameters` must be a valid JSON Schema (default: an object with no required properties)."""
    if isinstance(tool, Mapping) and tool.get("type") == "function" and isinstance(tool.get("function"), Mapping):
        tool = tool["function"]
    if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str) or not tool["name"]:
        raise ToolsError('each tool is a map with a `name`, e.g. { name = "get_weather", parameters = { ... } }')
    parameters = tool.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, Mapping):
        raise ToolsError(f"tool {tool['name']!r}: `parameters` must be a JSON Schema map")
    try:
        jsonschema.validators.validator_for(dict(parameters)).check_schema(dict(parameters))
    except jsonschema.exceptions.SchemaError as exc:
        raise ToolsError(f"tool {tool['name']!r}: `parameters` is not a valid JSON Schema: {exc.message}") from None
    unknown = sorted(set(tool) - {"name", "description", "parameters", "strict"})
    if unknown:
        raise ToolsError(f"tool {tool['name']!r}: unknown key(s) {', '.join(unknown)}")
    out = {"name": tool["name"], "parameters": dict(parameters)}
    if isinstance(tool.get("description"), str):
        out["description"] = tool["description"]
    return out


def load_tools(value: str | Sequence[Any], base_dir: Path, roots: Sequence[Path]) -> tuple[dict[str, Any], ...]:
    """Inline tools, or the list in a .json file (relative to the declaring file, inside the project)."""
    if isinstance(value, str):
        path = base_dir / value
        if not is_within(path, roots):
            raise ToolsError(f"the tools file {value!r} is outside the project")
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ToolsError(f"cannot read the tools file {value!r}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ToolsError(f"the tools file {value!r} is not JSON: {exc}") from None
        if not isinstance(value, list):
            raise ToolsError("a tools file holds a JSON list of tools")
    tools = tuple(normalize_tool(t) for t in value)
    names = [t["name"] for t in tools]
    if len(set(names)) != len(names):
        raise ToolsError(f"tool names must be unique: {', '.join(names)}")
    return tools


def openai_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tools in the OpenAI chat format that litellm passes on."""
    return [{"type": "function", "function": dict(t)} for t in tools]


def normalize_call(call: Any) -> dict[str, Any]:
    """A tool call as `{name, arguments}` (arguments parsed from JSON text where they are text), from a plain
    mapping, OpenAI's `{function: {name, arguments}}` or an object with those attributes."""
    if isinstance(call, Mapping):
        function = call.get("function", call)
        name, arguments = function.get("name"), function.get("arguments")
    else:
        function = getattr(call, "function", call)
        name, arguments = getattr(function, "name", None), getattr(function, "arguments", None)
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
    return {"name": str(name) if name is not None else "", "arguments": arguments if arguments is not None else {}}


def tools_setting(value: Any, provider: str, base_dir: Path, spec_path: Path, span: Any) -> tuple[Any, Any]:
    """The `tools` attribute of a model block as lowering keeps it: (tools, None) or (None, a diagnostic)."""
    from ..diagnostics import Diagnostic
    from ..project import project_root

    if provider not in ("litellm", "python"):
        return None, Diagnostic(code="E374", message=f'`tools` does not apply to `provider = "{provider}"` '
                                "(only litellm, python)", span=span)  # fmt: skip
    try:
        return load_tools(value, base_dir, [project_root(spec_path)]), None
    except ToolsError as exc:
        return None, Diagnostic(code="E383", message=str(exc), span=span,
                                hint='e.g. tools = [{ name = "get_weather", parameters = { type = "object" } }]')
