"""What `check` may read: `.eval` sources and data files inside the allowed roots (the project root, plus the
folders a caller allows), and the standard library. Anything else is refused by its name, before it is opened,
so no byte of it can reach a diagnostic; and no source is read past a size limit (docs/security.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ..diagnostics import Diagnostic, Span
from ..project import is_within, project_root
from ..resources import stdlib_dir

EVAL_SUFFIX = ".eval"

_ROOT_HINT = "the project root is the git repository holding the root spec, or the spec's folder outside git"


def allowed_roots(spec: Path, extra: Iterable[Path] = ()) -> tuple[Path, ...]:
    """The folders `check` reads inside for a root spec: its project root, then `extra` (e.g. `--allow-path`)."""
    return (project_root(spec), *(Path(p).resolve() for p in extra))


def readable_roots(roots: Sequence[Path]) -> tuple[Path, ...]:
    """`roots` and the packaged standard library (its modules and the data files they declare)."""
    return (*roots, stdlib_dir())


def locate_import(raw: str, here: Path, roots: Sequence[Path], span: Span | None) -> Path | Diagnostic | None:
    """The `.eval` file a (non-`std/`) `import "raw"` written in folder `here` loads; a refusal (E105, E106) when
    it names a file that is not `.eval` source or lies outside `roots`; None when there is no such file.

    The refusal is decided from the name and the resolved path only: the file is never opened."""
    written = Path(raw)
    if written.suffix not in ("", EVAL_SUFFIX):
        return _not_eval(raw, span)
    try:
        candidate = here / written
        if candidate.suffix != EVAL_SUFFIX:
            candidate = candidate.with_name(candidate.name + EVAL_SUFFIX)
        resolved = candidate.resolve()
    except (ValueError, OSError, RuntimeError):  # a NUL character, a symlink loop, an empty name...
        return None
    if not is_within(resolved, readable_roots(roots)):
        return Diagnostic(
            code="E106",
            message=f'import of "{raw}" refused: it lies outside the project root',
            span=span,
            hint=f"imports must be .eval files inside the project ({_ROOT_HINT})",
        )
    if resolved.suffix != EVAL_SUFFIX:  # a link named .eval that points at another kind of file
        return _not_eval(raw, span)
    try:
        return resolved if resolved.is_file() else None
    except (ValueError, OSError):
        return None


def _not_eval(raw: str, span: Span | None) -> Diagnostic:
    return Diagnostic(
        code="E105",
        message=f'import of "{raw}" refused: only .eval files can be imported',
        span=span,
        hint="an import loads .eval source; data files are read by a `dataset` block",
    )


def root_refusal(path: Path) -> Diagnostic | None:
    """E105 for a root spec read from disk whose name does not end in `.eval` (its content is not shown)."""
    if path.suffix == EVAL_SUFFIX:
        return None
    return Diagnostic(
        code="E105",
        message=f"{path} is not an .eval file, so it is not read",
        hint="evaldsl checks .eval source files; rename the file if it is one",
    )


MAX_SOURCE_BYTES = 8 * 2**20  # one source file
MAX_TOTAL_SOURCE_BYTES = 16 * 2**20  # a spec and all its imports


def read_source(
    path: Path, span: Span | None = None, limit: int = MAX_SOURCE_BYTES
) -> tuple[str | None, Diagnostic | None]:
    """File text, or a diagnostic for a missing, unreadable, binary, non-UTF-8 or too large file (more than
    `limit` bytes: never read past that, so a link to a device or an endless file cannot exhaust memory)."""
    try:
        if path.exists() and not path.is_file() and not path.is_dir():  # a FIFO, a socket, a device
            return None, Diagnostic(code="E001", message=f"{path} is not a regular file", span=span)
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            return None, Diagnostic(
                code="E006",
                message=f"{path.name} is too large to check (more than {limit / 2**20:g} MiB)",
                span=span,
                hint=f"a source file holds at most {MAX_SOURCE_BYTES // 2**20} MiB, a spec with its imports "
                f"{MAX_TOTAL_SOURCE_BYTES // 2**20} MiB; keep large data in dataset files",
            )
    except FileNotFoundError:
        return None, Diagnostic(code="E001", message=f"file not found: {path}", span=span)
    except IsADirectoryError:
        return None, Diagnostic(code="E001", message=f"{path} is a folder, not an .eval file", span=span)
    except OSError as exc:
        return None, Diagnostic(code="E001", message=f"cannot read {path}: {exc.strerror}", span=span)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, Diagnostic(
            code="E002",
            message=f"{path} is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            span=Span.point(str(path), line, column),
            hint="save the file as UTF-8; is it really an .eval file?",
        )
    return text.removeprefix("\ufeff"), None
