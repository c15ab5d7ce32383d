from emhqa.chunking import chunk_sections
from emhqa.corpus import load_corpus
from tests.conftest import CORPUS


def chunks(max_chars):
    corpus = load_corpus(CORPUS)
    return corpus, chunk_sections(corpus.texts, [s for d in corpus.documents for s in d.sections()], max_chars)


def test_every_chunk_text_equals_its_span_of_the_file():
    corpus, result = chunks(600)
    for chunk in result:
        assert corpus.texts[chunk.source][chunk.start:chunk.end] == chunk.text
        assert chunk.sentences[0].start == chunk.start and chunk.sentences[-1].end == chunk.end


def test_chunks_never_cross_a_section_and_respect_the_size():
    corpus, result = chunks(200)
    spans = {(s.source, s.title, s.start, s.end) for d in corpus.documents for s in d.sections()}
    for chunk in result:
        assert any(src == chunk.source and title == chunk.section and start <= chunk.start and chunk.end <= end
                   for src, title, start, end in spans)
        assert len(chunk.text) <= 200 or len(chunk.sentences) == 1


def test_smaller_chunks_mean_more_chunks_with_the_same_sentences():
    _, small = chunks(150)
    _, large = chunks(1500)
    assert len(small) > len(large)
    assert [s for c in small for s in c.sentences] == [s for c in large for s in c.sentences]
