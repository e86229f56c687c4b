"""Secrets redacted by value (docs/security.md): every value of a credential variable of the environment is
replaced by `<redacted>` wherever text leaves the process (store, JSON, show, export, HTML report, JUnit) — short,
unprefixed and multi-line keys included — on top of the shape-based redaction of `sk-...` / `Bearer ...`."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl.cli.app import app
from evaldsl.store.redact import MIN_SECRET_LENGTH, REDACTED, Redactor, redacting_logs
from tests.fakeserver import FakeOpenAIServer

UNPREFIXED = "Zq8Lm3Vx9Tn2Wp4K"  # a key with no recognisable shape
SHORT = "k7Q2xz"  # as short as a redacted secret may be
PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "-----END PRIVATE KEY-----"
)


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# ---------------------------------------------------------------- the redactor


def test_known_values_are_redacted_whatever_their_shape() -> None:
    redactor = Redactor((UNPREFIXED, SHORT))
    text = f"error 401: key {UNPREFIXED} rejected; also {SHORT}."
    assert redactor.text(text) == f"error 401: key {REDACTED} rejected; also {REDACTED}."


def test_values_too_short_to_redact_are_left_alone() -> None:
    assert MIN_SECRET_LENGTH == 6
    redactor = Redactor(("abcde", "", "   "))
    assert redactor.text("abcde is a word") == "abcde is a word"
    assert Redactor(("abcdef",)).text("xabcdefx") == f"x{REDACTED}x"


def test_a_multi_line_key_is_redacted_whole_and_line_by_line() -> None:
    redactor = Redactor((PEM,))
    assert PEM.splitlines()[1] not in redactor.text(f"got:\n{PEM}\n")
    assert redactor.text(f"got:\n{PEM}\n") == f"got:\n{REDACTED}\n"
    escaped = json.dumps({"key": PEM})  # quoted back with \n escapes: each line still goes
    for line in PEM.splitlines():
        if len(line) >= MIN_SECRET_LENGTH:
            assert line not in redactor.text(escaped)
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in redactor.text("line 2 only: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")


def test_longer_secrets_go_first() -> None:
    redactor = Redactor(("abcdef", "abcdefghijkl"))
    assert redactor.text("abcdefghijkl") == REDACTED  # not "<redacted>ghijkl"


def test_shapes_are_redacted_in_messages_but_not_in_model_outputs() -> None:
    redactor = Redactor()
    assert redactor.text("Authorization: Bearer xyz") == f"Authorization: {REDACTED}"
    assert redactor.exact("use a Bearer token") == "use a Bearer token"


def test_values_in_data_keys_included() -> None:
    redactor = Redactor((UNPREFIXED,))
    data = {"output": f"echo {UNPREFIXED}", UNPREFIXED: [1, 2.5, None, True, (UNPREFIXED,)]}
    assert redactor.values(data) == {"output": f"echo {REDACTED}", REDACTED: [1, 2.5, None, True, [REDACTED]]}
    assert Redactor().values(data) is data  # nothing known: nothing copied


def test_from_environ_takes_the_credential_variables() -> None:
    environ = {
        "OPENAI_API_KEY": "sk-SECRET123",
        "HF_TOKEN": "hf_abcdefghijklmnop",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
        "MY_SERVICE_TOKEN": UNPREFIXED,
        "DB_PASSWORD": SHORT,
        "SIGNING_KEY": PEM,
        "PATH": "/usr/local/bin:/usr/bin",
        "HOME": "/home/someone",
        "MAX_TOKENS_HINT": "1024",
        "EMPTY_TOKEN": "",
    }
    redactor = Redactor.from_environ(environ)
    assert set(redactor.secrets) == {
        "sk-SECRET123", "hf_abcdefghijklmnop", "wJalrXUtnFEMI/K7MDENG", UNPREFIXED, SHORT, PEM,
    }  # fmt: skip
    assert redactor.text("/usr/local/bin:/usr/bin") == "/usr/local/bin:/usr/bin"
    # one redactor per command, built from what it is given: nothing global to leak between them
    assert Redactor.from_environ({}).text("sk-SECRET123") == "sk-SECRET123"


def test_log_records_are_redacted_while_a_run_goes_on() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root, library = logging.getLogger(), logging.getLogger("openai")
    root.addHandler(handler)
    level = library.level
    library.setLevel(logging.DEBUG)
    try:
        with redacting_logs(Redactor((UNPREFIXED,))):
            library.debug("request with api key %s", UNPREFIXED)
            logging.getLogger("evaldsl.anything").warning("reply: key %s rejected", UNPREFIXED)
        logging.getLogger("evaldsl.anything").warning("after the run: %s", UNPREFIXED)
    finally:
        root.removeHandler(handler)
        library.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"request with api key {REDACTED}"
    assert lines[1] == f"reply: key {REDACTED} rejected"
    assert lines[2] == f"after the run: {UNPREFIXED}"  # the filters are gone with the run


# ---------------------------------------------------------------- everywhere text leaves a run


def _echo_spec(folder: Path, secret: str) -> Path:
    (folder / "rows.jsonl").write_text(json.dumps({"q": f"repeat {secret} please", "a": "x"}) + "\n")
    spec = folder / "spec.eval"
    spec.write_text("""
dataset d { path = "rows.jsonl" }
model echo { provider = "mock" }
eval e { dataset = d, prompt = "{{ q }}", models = [echo], target = "{{ a }}", metrics = [exact_match] }
""")
    return spec


def _everything_written(folder: Path, junit: Path, html: Path) -> str:
    """The store's files (database and write-ahead log) and every view of the stored run."""
    parts = [p.read_bytes().decode("utf-8", "replace") for p in (folder / ".evaldsl").rglob("*") if p.is_file()]
    parts += [junit.read_text(), html.read_text()]
    for args in (["show", "latest"], ["show", "latest", "-f", "json"], ["export", "latest", "-f", "csv"],
                 ["export", "latest", "-f", "jsonl"], ["runs", "-f", "json"]):  # fmt: skip
        code, out, err = run_cli(*args)
        assert code == 0, (args, err)
        parts += [out, err]
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("variable", "secret"),
    [("OPENAI_API_KEY", UNPREFIXED), ("DB_PASSWORD", SHORT), ("SIGNING_KEY", PEM), ("OPENAI_API_KEY", "sk-SECRET123")],
    ids=["unprefixed", "short", "multi-line", "short-prefixed"],
)
def test_an_echoed_secret_never_leaves_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, secret: str
) -> None:
    monkeypatch.setenv(variable, secret)
    spec = _echo_spec(tmp_path, secret.replace("\n", " "))  # the mock model echoes the prompt back
    junit, html = tmp_path / "junit.xml", tmp_path / "report.html"
    code, out, err = run_cli("run", str(spec), "--format", "json", "--junit", str(junit))
    assert code in (0, 1), err
    code, _, err = run_cli("report", "latest", "--html", str(html))
    assert code == 0, err
    written = out + err + _everything_written(tmp_path, junit, html)
    for piece in [secret, *secret.splitlines()]:
        if len(piece.strip()) >= MIN_SECRET_LENGTH:
            assert piece.strip() not in written
    assert REDACTED in json.dumps(json.loads(out)) or "redacted" in written


def test_a_key_quoted_back_in_a_providers_401_never_leaves_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-SECRET123")  # too short for the shape rule: only its value gives it away
    with FakeOpenAIServer({}) as server:
        server.fail_next(10, "401-echo")
        (tmp_path / "rows.jsonl").write_text('{"q": "hi", "a": "x"}\n')
        spec = tmp_path / "spec.eval"
        spec.write_text(f"""
dataset d {{ path = "rows.jsonl" }}
model api {{ id = "openai/test-model", api_base = "{server.api_base}", max_retries = 0, timeout = 5 }}
eval e {{ dataset = d, prompt = "{{{{ q }}}}", models = [api], target = "{{{{ a }}}}", metrics = [exact_match] }}
""")
        junit, html = tmp_path / "junit.xml", tmp_path / "report.html"
        code, out, err = run_cli("run", str(spec), "--format", "json", "--junit", str(junit))
    assert code == 3, err
    assert "Incorrect API key provided" in out  # the reason is kept, the key is not
    code, _, err = run_cli("report", "latest", "--html", str(html))
    assert code == 0, err
    written = out + err + _everything_written(tmp_path, junit, html)
    assert "SECRET123" not in written
    assert f"Incorrect API key provided: {REDACTED}" in written
