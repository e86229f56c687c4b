"""Every request at any place of any file answers without raising: valid specs, the golden broken ones and
randomly mutated ones (the functions the server calls, run in this process on real documents)."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pygls.workspace.position_codec import PositionCodec

from evaldsl.lsp import completion, hover, navigation
from evaldsl.lsp.convert import Positions
from evaldsl.lsp.documents import Documents
from evaldsl.lsp.index import Index
from tests.test_fuzz import SEED_SPECS, mutate

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    p
    for p in [
        *sorted((ROOT / "tests" / "golden" / "diagnostics").glob("*.eval")),
        *SEED_SPECS,
        *sorted((ROOT / "stdlib").glob("*.eval")),
    ]
    if p.is_file()
]
CODEC = PositionCodec()


def _ask_everything(path: Path, text: str, offsets: list[int]) -> None:
    docs = Documents()
    index = Index(docs)
    docs.set(path, text)
    docs.check(path)

    def positions(file: str) -> Positions:
        return Positions(docs.text(Path(file)) or "", CODEC)

    here = Positions(text, CODEC)
    module = docs.module(path)
    if module is not None:
        navigation.document_symbols(module, here)
    for offset in offsets:
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        completion.complete(docs, path, text, offset, here)
        hover.hover(docs, index, path, text, offset, line, column)
        navigation.definition(index, path, line, column, positions)
        navigation.references(index, path, line, column, [path], positions, True)
        try:
            navigation.prepare_rename(index, path, line, column, positions)
        except navigation.RenameRefused:
            pass


@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), max_examples=120)
@given(st.randoms(use_true_random=False))
def test_requests_never_raise(rnd: random.Random) -> None:
    path = rnd.choice(FILES).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("utf-8", errors="replace")
    if rnd.random() < 0.7:
        text = mutate(text, rnd)
    offsets = sorted({rnd.randrange(len(text) + 1) for _ in range(12)})
    _ask_everything(path, text, offsets)
