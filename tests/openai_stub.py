"""A real HTTP server on loopback that speaks the OpenAI chat-completions API with scripted replies."""
from __future__ import annotations

import json
import re
import threading
import time
from itertools import chain
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Messages = list[dict]


@dataclass
class Reply:
    """One scripted answer: text (or a function of the request's messages), or a fault."""

    content: str | Callable[[Messages], str] = ""
    status: int = 200
    delay: float = 0.0  # seconds before the reply (streaming: before each chunk)
    raw: bytes | None = None  # sent as-is instead of a well-formed completion
    drip: float = 0.0  # after the status and headers, seconds between the body's bytes


def passages_in(messages: Messages) -> list[str]:
    """The passage texts the prompt gave the model, in order."""
    prompt = next(m["content"] for m in messages if m["role"] in ("user", "human"))
    return [text.strip() for text in re.findall(r'<passage id="\d+"[^>]*>(.*?)</passage>', prompt, re.S)]


class ScriptedOpenAI:
    def __init__(self, default: Reply | None = None):
        self.replies: list[Reply] = []
        self.default = default or Reply("The sources do not cover this question.")
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                reply = stub.replies.pop(0) if stub.replies else stub.default
                content = reply.content(body["messages"]) if callable(reply.content) else reply.content
                try:
                    if body.get("stream"):
                        self.stream(reply, content, body["model"])
                    else:
                        time.sleep(reply.delay)
                        self.complete(reply, content, body["model"])
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            def send(self, status: int, payload: bytes, kind: str = "application/json", drip: float = 0.0):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.write(payload, drip)

            def write(self, payload: bytes, drip: float) -> None:
                """The payload at once, or one byte every ``drip`` seconds."""
                for piece in ((payload[i:i + 1] for i in range(len(payload))) if drip else [payload]):
                    time.sleep(drip)
                    self.wfile.write(piece)
                    self.wfile.flush()

            def complete(self, reply: Reply, content: str, model: str):
                if reply.status != 200:
                    return self.send(reply.status, b'{"error": {"message": "scripted failure"}}')
                if reply.raw is not None:
                    return self.send(200, reply.raw)
                self.send(200, json.dumps({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode(),
                    drip=reply.drip)

            def stream(self, reply: Reply, content: str, model: str):
                if reply.status != 200 or reply.raw is not None:
                    time.sleep(reply.delay)
                    return self.complete(reply, content, model)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for token in chain((m.group() for m in re.finditer(r"\S+\s*", content)), [""]):  # lazily: floods
                    time.sleep(reply.delay)
                    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model,
                             "choices": [{"index": 0, "delta": {"content": token}, "finish_reason": None}]}
                    self.write(f"data: {json.dumps(chunk)}\n\n".encode(), reply.drip)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "ScriptedOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
