"""Make docs/editor-support.png: Neovim (its built-in LSP client, configured as docs/editors.md shows) editing a
spec through `evaldsl lsp`, with diagnostics and a completion menu open.

Needs nvim, tmux and chromium (Debian: `apt-get install neovim tmux chromium`). Neovim runs in tmux; the pane is
captured with its colours, turned into HTML by rich and photographed by headless Chromium.

Usage: python scripts/editor_screenshot.py [--output docs/editor-support.png]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS, ROWS = 118, 36
SESSION = "evaldsl-screenshot"

SPEC = """\
# Trivia questions on the packaged default model.
import "std/general"

dataset trivia { path = "data/trivia.jsonl", limit = 20 }

model small {
  provider   = "hf"
  id         = "smollm2-135m-instruct"
  max_tokens = 24
}

prompt ask {
  system = "Answer with a short phrase."
  user   = "{{ questoin }}"
}

eval trivia_qa {
  dataset = trivia
  prompt  = ask
  models  = [smal]
  target  = `[answer] + (aliases or [])`
  metrics = [exact_match, ]
}
"""

INIT_LUA = """\
vim.cmd("autocmd BufRead,BufNewFile *.eval setfiletype evaldsl")
vim.o.completeopt = "menuone,noinsert"
vim.o.number = true
vim.o.signcolumn = "yes"
-- Quieter colours for the picture (the editor's defaults otherwise).
vim.cmd("highlight SignColumn ctermbg=NONE")
vim.cmd("highlight Pmenu ctermbg=237 ctermfg=252")
vim.cmd("highlight PmenuSel ctermbg=24 ctermfg=255")
vim.cmd("highlight LineNr ctermfg=242")
vim.api.nvim_create_autocmd("FileType", {
  pattern = "evaldsl",
  callback = function(args)
    local client = vim.lsp.start_client({
      name = "evaldsl",
      cmd = { %(command)s },
      root_dir = vim.fn.getcwd(),
    })
    vim.lsp.buf_attach_client(args.buf, client)
    vim.bo[args.buf].omnifunc = "v:lua.vim.lsp.omnifunc"
  end,
})
"""


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _wait_for(text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-t", SESSION, "-p")
        if text in screen:
            return screen
        time.sleep(0.3)
    raise SystemExit(f"timed out waiting for {text!r} on the screen:\n{screen}")


def capture(folder: Path) -> str:
    """Neovim on the spec, once the diagnostics are in, with the completion menu open in `metrics = [...]`."""
    (folder / "data").mkdir(parents=True)
    shutil.copy(ROOT / "specs" / "data" / "trivia.jsonl", folder / "data")
    (folder / "demo.eval").write_text(SPEC, encoding="utf-8")
    command = ", ".join(f'"{part}"' for part in (sys.executable, "-m", "evaldsl", "lsp"))
    (folder / "init.lua").write_text(INIT_LUA % {"command": command}, encoding="utf-8")
    shell = f"cd {folder} && PYTHONPATH={ROOT} TERM=xterm-256color nvim -n -i NONE -u init.lua demo.eval"
    _tmux("new-session", "-d", "-s", SESSION, "-x", str(COLUMNS), "-y", str(ROWS), shell)
    try:
        _wait_for("unknown model `smal`")
        line = SPEC.split("\n").index("  metrics = [exact_match, ]") + 1
        for keys in (f"{line}G", "f]", "i"):
            _tmux("send-keys", "-t", SESSION, keys)
            time.sleep(0.3)
        _tmux("send-keys", "-t", SESSION, "C-x", "C-o")
        _wait_for("exact_match Function")
        time.sleep(0.5)
        return _tmux("capture-pane", "-t", SESSION, "-p", "-e")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


def render(ansi: str, html: Path, png: Path) -> None:
    from rich.console import Console
    from rich.terminal_theme import MONOKAI
    from rich.text import Text

    console = Console(record=True, width=COLUMNS, force_terminal=True, color_system="256", file=open("/dev/null", "w"))
    console.print(Text.from_ansi(ansi.rstrip("\n")), soft_wrap=True)
    page = console.export_html(theme=MONOKAI, inline_styles=True)
    page = page.replace("<body>", '<body style="margin:0;padding:12px 16px">')
    html.write_text(page, encoding="utf-8")
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={png}",
         "--window-size=1180,720", "--default-background-color=272822ff", html.as_uri()],
        check=True, capture_output=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "editor-support.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ansi = capture(folder / "workspace")
        render(ansi, folder / "screen.html", args.output.resolve())
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
