"""The toy application as a JSON service for specs/service.eval: `python specs/my_app/serve.py [PORT]` serves
POST /answer {"question": ...} → {"answer": ..., "sources": [...]} on 127.0.0.1 (default port 8765)."""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from my_app.knowledge import retrieve  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        facts = retrieve(str(body.get("question", "")))
        answer = facts[0].rstrip(".").split()[-1] if facts else "I don't know."
        payload = json.dumps({"answer": answer, "sources": facts}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def make_server(port: int = 8765) -> ThreadingHTTPServer:
    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


if __name__ == "__main__":
    server = make_server(int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
    print(f"serving on http://127.0.0.1:{server.server_address[1]}/answer")
    server.serve_forever()
