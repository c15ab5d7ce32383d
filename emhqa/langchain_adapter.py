"""The emhqa retriever as a LangChain ``BaseRetriever``, so it drops into any LangChain chain."""
from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever


class EmhqaRetriever(BaseRetriever):
    """Wraps any emhqa ``Retriever``; each Document carries source, section and offsets."""

    retriever: Any
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [Document(page_content=p.chunk.text,
                         metadata={"source": p.chunk.source, "section": p.chunk.section,
                                   "start": p.chunk.start, "end": p.chunk.end, "score": p.score})
                for p in self.retriever.retrieve(query, self.k)]
