"""A minimal Language Server Protocol client, to drive the YAML language server
that editors (VS Code, Neovim, JetBrains via LSP) run against our policy files."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / ".tools" / "node_modules" / ".bin" / "yaml-language-server"


class YamlLanguageServer:
    def __init__(self) -> None:
        if not SERVER.exists():
            raise RuntimeError(f"{SERVER} is missing: run scripts/install --test-tools")
        self.process = subprocess.Popen(
            [str(SERVER), "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._next_id = 0
        self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": ROOT.as_uri(),
                "capabilities": {"workspace": {"configuration": True}},
            },
        )
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": {"yaml": self._settings()}})

    @staticmethod
    def _settings() -> dict[str, Any]:
        return {"validate": True, "completion": True, "schemaStore": {"enable": False}}

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            headers = {}
            while (line := stream.readline().decode()) not in ("\r\n", ""):
                key, _, value = line.partition(":")
                headers[key.lower()] = value.strip()
            if not headers:
                return
            body = stream.read(int(headers["content-length"]))
            if len(body) < int(headers["content-length"]):
                return  # the server was stopped mid-message
            self.inbox.put(json.loads(body))

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        self.process.stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self._next_id += 1
        wanted = self._next_id
        self._send({"id": wanted, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == wanted)["result"]

    def wait(self, predicate, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            if message.get("method") == "workspace/configuration":  # the server asks
                items = message["params"]["items"]
                self._send({"id": message["id"], "result": [self._settings()] * len(items)})
            elif predicate(message):
                return message
        raise TimeoutError("the language server did not answer")

    def _virtual_uri(self, path: Path) -> str:
        """A fresh document beside ``path`` (so its relative $schema resolves the same),
        never opened before: no stale answer about an earlier document can match it."""
        self._next_id += 1
        return path.resolve().with_name(f".{path.stem}.editor-{self._next_id}.yaml").as_uri()

    def diagnostics(self, path: Path, text: str, version: int = 1) -> list[dict[str, Any]]:
        uri = self._virtual_uri(path)
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "yaml", "version": version, "text": text}},
        )
        message = self.wait(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
            )
        )
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        return message["params"]["diagnostics"]

    def completions(self, path: Path, text: str, line: int, character: int) -> list[str]:
        uri = self._virtual_uri(path)
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
        )
        result = self.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        items = result["items"] if isinstance(result, dict) else result
        return [item["label"] for item in items]

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
