"""Sections -> chunks: consecutive sentences up to a size, never across a section boundary."""
from __future__ import annotations

from collections.abc import Iterable

from .types import Chunk, Section, Span

# The version of the chunks a corpus gives: its parsing, sentence splitting and chunking, and the text
# each chunk is embedded as (``Chunk.embed_text``). An index records it, and an index made with another
# version is stale. tests/test_chunking.py pins a hash of the chunks of the real corpus (read by every
# parser) with it: a change to them fails that test until this is raised and the new hash is pinned.
CHUNKING_VERSION = 1


def chunk_sections(texts: dict[str, str], sections: Iterable[Section], max_chars: int) -> list[Chunk]:
    """Greedy sentence packing; a sentence longer than ``max_chars`` becomes a chunk of its own."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    chunks: list[Chunk] = []

    def emit(source: str, title: str, group: list[Span]) -> None:
        start, end = group[0].start, group[-1].end
        chunks.append(Chunk(len(chunks), source, title, start, end, texts[source][start:end], tuple(group)))

    for section in sections:
        group: list[Span] = []
        for sentence in section.sentences:
            if group and sentence.end - group[0].start > max_chars:
                emit(section.source, section.title, group)
                group = []
            group.append(sentence)
        if group:
            emit(section.source, section.title, group)
    return chunks
