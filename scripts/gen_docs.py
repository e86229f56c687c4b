"""Block attribute tables in docs/language.md ← their one declaration (`evaldsl.compile.schema`).

Each table sits between `<!-- attributes: KIND -->` and `<!-- /attributes -->`. Run `python scripts/gen_docs.py`
after changing an attribute; `--check` exits 1 when the document is out of date (tests/test_docs.py runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "language.md"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evaldsl.compile.schema import markdown_table  # noqa: E402

SECTION = re.compile(r"(<!-- attributes: (\w+) -->\n).*?(<!-- /attributes -->)", re.S)


def generated(text: str) -> str:
    """The document with every attribute table rewritten from the schema."""
    return SECTION.sub(lambda m: f"{m.group(1)}{markdown_table(m.group(2))}\n{m.group(3)}", text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report whether the document is out of date")
    args = parser.parse_args()
    text = DOC.read_text(encoding="utf-8")
    new = generated(text)
    if new == text:
        return 0
    if args.check:
        print(f"{DOC.relative_to(ROOT)} is out of date: run python scripts/gen_docs.py", file=sys.stderr)
        return 1
    DOC.write_text(new, encoding="utf-8")
    print(f"rewrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
