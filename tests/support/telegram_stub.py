"""A real HTTP server on 127.0.0.1 that stands in for the Telegram Bot API's file methods:
sendDocument (multipart), getFile and its download URL, deleteMessage. It keeps what it
was sent, so a test can read it back, damage it, or see what was deleted."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from support.http_stub import Loopback


def document_of(content_type: str, body: bytes) -> tuple[str, bytes]:
    """The file name and exact bytes of the `document` field of a multipart form."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, content = part[2:].partition(b"\r\n\r\n")
        if b'name="document"' in head:
            found = re.search(rb'filename="([^"]*)"', head)
            return (found.group(1).decode() if found else ""), content[:-2]
    raise ValueError("no document in the form")


@dataclass
class TelegramStub(Loopback):
    token: str
    fail_uploads_from: int | None = None  # the n-th sendDocument on answers 500
    upload_delay: float = 0.0  # seconds before each sendDocument answers
    files: dict[str, bytes] = field(default_factory=dict)  # file_id → content
    names: dict[str, str] = field(default_factory=dict)  # file_id → file name
    messages: dict[int, str] = field(default_factory=dict)  # message_id → file_id
    deleted: list[int] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # every path asked for
    uploads: int = 0
    corrupt_downloads: bool = False  # flip a byte of every file downloaded
    failure: str = "Internal Server Error"  # the description of a failed upload
    file_dir: str = "documents"  # the folder of getFile's file_path

    def __post_init__(self) -> None:
        stub = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: Any, raw: bytes | None = None) -> None:
                data = raw if raw is not None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _method(self) -> str | None:
                prefix = f"/bot{stub.token}/"
                return self.path[len(prefix) :] if self.path.startswith(prefix) else None

            def do_POST(self) -> None:
                stub.paths.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                method = self._method()
                if method == "sendDocument":
                    self._send_document(raw)
                elif method == "getFile":
                    file_id = json.loads(raw)["file_id"]
                    if file_id not in stub.files:
                        self._reply(400, {"ok": False, "description": "file not found"})
                        return
                    path = f"{stub.file_dir}/{file_id}"
                    self._reply(
                        200, {"ok": True, "result": {"file_id": file_id, "file_path": path}}
                    )
                elif method == "deleteMessage":
                    stub.deleted.append(int(json.loads(raw)["message_id"]))
                    self._reply(200, {"ok": True, "result": True})
                else:
                    self._reply(404, {"ok": False, "description": "Not Found"})

            def _send_document(self, raw: bytes) -> None:
                with lock:
                    stub.uploads += 1
                    number = stub.uploads
                if stub.upload_delay:
                    time.sleep(stub.upload_delay)
                if stub.fail_uploads_from is not None and number >= stub.fail_uploads_from:
                    self._reply(500, {"ok": False, "description": stub.failure})
                    return
                name, content = document_of(self.headers["Content-Type"], raw)
                with lock:
                    file_id = f"file{number:04d}"
                    message_id = 1000 + number
                    stub.files[file_id] = content
                    stub.names[file_id] = name
                    stub.messages[message_id] = file_id
                result = {
                    "message_id": message_id,
                    "document": {"file_id": file_id, "file_size": len(content)},
                }
                self._reply(200, {"ok": True, "result": result})

            def do_GET(self) -> None:
                stub.paths.append(self.path)
                prefix = f"/file/bot{stub.token}/{stub.file_dir}/"
                path = unquote(self.path)
                file_id = path[len(prefix) :] if path.startswith(prefix) else ""
                if file_id not in stub.files:
                    self._reply(404, {"ok": False})
                    return
                data = stub.files[file_id]
                if stub.corrupt_downloads:
                    data = bytes([data[0] ^ 1]) + data[1:]
                self._reply(200, None, data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.serve(Handler)

    def stored(self) -> list[str]:
        """The file ids of the documents not deleted."""
        return [f for m, f in sorted(self.messages.items()) if m not in self.deleted]
