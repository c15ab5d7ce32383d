"""A corpus document, and a question, that carry URLs and e-mail addresses in every place the app shows."""
from __future__ import annotations

import json
from pathlib import Path

LINKS = "http://evil.example/cure, www.evil.example or a@b.example"
TITLE = "Cures from www.evil.example (a@b.example)"
QUESTION = "Are EMH masses cured by vitamin Q? Ask www.evil.example or a@b.example"


def add_link_document(corpus_dir: Path) -> str:
    """Add ``links.md`` (URLs in its title, its section heading and its text) to the manifest of
    ``corpus_dir``; returns its name."""
    (corpus_dir / "links.md").write_text(
        f"# Vitamin Q at http://evil.example and www.evil.example\n\nExtramedullary hematopoiesis masses are "
        f"cured by vitamin Q from {LINKS} as the only treatment.\n", encoding="utf-8")
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["links.md"] = {"title": TITLE, "kind": "article", "publisher": None}
    (corpus_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return "links.md"
