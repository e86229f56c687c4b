"""Credentials of the environment go only to servers the user allows (E333): a spec that points a model's
`api_base` (or an `http` model with headers from the environment) at another machine is refused by `check` and
`run` unless `--allow-host` or EVALDSL_ALLOW_HOST names that host; `extra` cannot choose a server at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.access import Access, access_for, is_this_machine, url_host
from evaldsl.cli.app import app

DATA = 'dataset d { rows = [{ q = "2+2?", a = "4" }] }\n'
EVAL = 'eval e { dataset = d, models = [m], prompt = "{{ q }}", target = "{{ a }}", metrics = [exact_match] }\n'


def spec(tmp_path: Path, model: str) -> Path:
    path = tmp_path / "spec.eval"
    path.write_text(DATA + model + "\n" + EVAL)
    return path


def codes(path: Path, access: Access | None = None) -> list[str]:
    return [d.code for d in api.check(path, access=access).diagnostics]


def litellm(api_base: str, extra: str = "") -> str:
    return f'model m {{\n  provider = "litellm"\n  id = "openai/gpt-4o-mini"\n  api_base = "{api_base}"{extra}\n}}'


@pytest.mark.parametrize("server", ["http://127.0.0.1:8000/v1", "http://localhost:11434", "https://[::1]:9/v1",
                                    "http://127.0.0.2:80", "http://models.localhost/v1", "http://LOCALHOST./v1"])
def test_a_server_on_this_machine_needs_no_grant(tmp_path: Path, server: str) -> None:
    assert "E333" not in codes(spec(tmp_path, litellm(server)))


def test_another_server_is_refused_where_the_spec_names_it(tmp_path: Path) -> None:
    path = spec(tmp_path, litellm("https://collector.example.net/v1"))
    [d] = [d for d in api.check(path).diagnostics if d.code == "E333"]
    assert "`collector.example.net`" in d.message and "API key" in d.message
    assert d.span is not None and (d.span.line, d.span.column) == (5, 14)  # the api_base value
    assert d.hint is not None and "--allow-host collector.example.net" in d.hint


def test_a_granted_host_and_the_hosts_under_a_granted_domain_are_allowed(tmp_path: Path) -> None:
    path = spec(tmp_path, litellm("https://gpu-1.evals.example.com:8443/v1"))
    assert "E333" in codes(path, access_for(allow_hosts=["evals.example.com"]))  # another host of that domain
    assert "E333" not in codes(path, access_for(allow_hosts=["gpu-1.evals.example.com"]))
    assert "E333" not in codes(path, access_for(allow_hosts=[".example.com"]))
    assert "E333" not in codes(path, access_for(environ={"EVALDSL_ALLOW_HOST": "other.org, GPU-1.evals.example.com"}))
    assert "E333" in codes(path, access_for(environ={"EVALDSL_ALLOW_HOST": "example.com"}))


@pytest.mark.parametrize("api_base", ["collector.example.net/v1", "ftp://127.0.0.1/", "http://[zz]/"])
def test_an_api_base_that_is_not_an_http_url_is_refused(tmp_path: Path, api_base: str) -> None:
    [d] = [d for d in api.check(spec(tmp_path, litellm(api_base))).diagnostics if d.code == "E333"]
    assert "not an http:// or https:// URL" in d.message


@pytest.mark.parametrize("key", ["base_url", "api_base", "extra_headers", "custom_llm_provider", "proxy"])
def test_extra_cannot_choose_the_server(tmp_path: Path, key: str) -> None:
    model = litellm("http://127.0.0.1:8000/v1", f'\n  extra = {{ {key} = "https://collector.example.net" }}')
    [d] = [d for d in api.check(spec(tmp_path, model)).diagnostics if d.code == "E333"]
    assert f"`{key}`" in d.message and "api_base" in (d.hint or "")
    harmless = litellm("http://127.0.0.1:8000/v1", "\n  extra = { top_k = 5, presence_penalty = 0.1 }")
    assert "E333" not in codes(spec(tmp_path, harmless))


def test_an_http_model_sends_environment_headers_only_to_an_allowed_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_TOKEN", "t0ken")
    remote = ('model m {\n  provider = "http"\n  url = "https://app.example.org/answer"\n'
              '  headers = { Authorization = env("APP_TOKEN") }\n}')
    [d] = [d for d in api.check(spec(tmp_path, remote)).diagnostics if d.code == "E333"]
    assert "APP_TOKEN" in d.message and "`app.example.org`" in d.message and "t0ken" not in d.message
    assert "E333" not in codes(spec(tmp_path, remote), access_for(allow_hosts=["app.example.org"]))
    no_credentials = 'model m {\n  provider = "http"\n  url = "https://app.example.org/answer"\n}'
    assert "E333" not in codes(spec(tmp_path, no_credentials))


def test_check_and_run_refuse_and_the_flag_grants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALDSL_ALLOW_HOST", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    path = spec(tmp_path, litellm("https://collector.example.net/v1"))
    runner = CliRunner()
    checked = runner.invoke(app, ["check", str(path)])
    assert checked.exit_code == 2 and "E333" in checked.output
    ran = runner.invoke(app, ["run", str(path), "--store", str(tmp_path / "store"), "--format", "json"])
    assert ran.exit_code == 2 and "E333" in ran.output and not (tmp_path / "store").exists()
    granted = runner.invoke(app, ["check", str(path), "--allow-host", "collector.example.net"])
    assert granted.exit_code == 0, granted.output
    planned = runner.invoke(app, ["plan", str(path), "--allow-host", "collector.example.net", "--format", "json"])
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.output)["totals"]["calls"] == 1


def test_url_hosts_and_this_machine() -> None:
    assert url_host("https://User@Example.COM.:8443/v1") == "example.com"
    assert url_host("http://[::1]:9/") == "::1" and url_host("example.com/v1") is None
    assert is_this_machine("127.9.9.9") and is_this_machine("::1") and not is_this_machine("10.0.0.1")
    assert not is_this_machine("localhost.example.com")


def test_an_embedding_metric_on_another_server_needs_a_grant(tmp_path: Path) -> None:
    path = tmp_path / "spec.eval"
    metric = ('metric emb = embedding_similarity(api = "openai/text-embedding-3-small", '
              'api_base = "https://collector.example.net/v1")\n')
    model = 'model m { provider = "mock", response = "{{ a }}" }\n'
    path.write_text(DATA + model + metric + EVAL.replace("exact_match", "emb"))
    [d] = [d for d in api.check(path).diagnostics if d.code == "E333"]
    assert d.message.startswith("metric `emb` sends its requests") and d.span is not None and d.span.line == 3
    assert "E333" not in codes(path, access_for(allow_hosts=["collector.example.net"]))
