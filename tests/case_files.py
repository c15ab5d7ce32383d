"""Self-made case-report files for the PDF and HTML tests: a two-page PDF (reportlab) with headings,
a running header and footer, page numbers and a hyphenated line break, and an HTML page with
navigation boilerplate. ``PDF_PAGES`` holds what each PDF page says, for checking cited pages."""
from __future__ import annotations

import io

HEADER = "Journal of Thoracic Imaging Cases - Teaching File"
FOOTER = "Copyright 2024 Imaging Teaching Collection. All rights reserved."
PDF_TITLE = "Presacral extramedullary hematopoiesis in beta-thalassemia intermedia"
# (font size, text) per line, page by page; a heading is the larger bold line.
PDF_PAGES: list[list[tuple[int, str]]] = [
    [(16, PDF_TITLE),
     (13, "History"),
     (11, "A 41-year-old woman with beta-thalassemia intermedia presented with low back pain"),
     (11, "and constipation for three months. She had never been transfused regularly."),
     (13, "Findings"),
     (11, "Pelvic MRI showed a lobulated presacral soft tissue mass measuring 6.2 cm with"),
     (11, "intermediate T1 signal, foci of fat and mild enhancement. The mass was consistent with extra-"),
     (11, "medullary hematopoiesis and did not erode the sacrum.")],
    [(11, "Technetium sulfur colloid scintigraphy showed uptake within the presacral mass, confirming"),
     (11, "active marrow tissue."),
     (13, "Discussion"),
     (11, "Presacral extramedullary hematopoiesis is rare and can mimic a neurogenic tumor or a"),
     (11, "chordoma. Recognizing the internal fat and the underlying anemia avoids a biopsy.")],
]
FINDINGS_QUESTION = "What did the pelvic MRI show in the presacral extramedullary hematopoiesis case?"
HTML_TITLE = "Hepatic extramedullary hematopoiesis in myelofibrosis"
HTML_QUESTION = "What did the CT show in the hepatic extramedullary hematopoiesis case with myelofibrosis?"
NAV = ["Home", "Case library", "Submit a case", "Subscribe to our newsletter"]
HTML_FOOTER = "Radiology Case Hub 2024 - privacy policy - cookie settings"
HTML_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{HTML_TITLE} | Radiology Case Hub</title>
<style>nav {{ color: grey }}</style><script>var tracking = "pageview-counter";</script></head>
<body>
<header><nav><ul>{"".join(f'<li><a href="/{n.lower().replace(" ", "-")}">{n}</a></li>' for n in NAV)}</ul></nav></header>
<main><article>
<h1>{HTML_TITLE}</h1>
<p class="byline">Case contributed by the teaching-file editors.</p>
<h2>History</h2>
<p>A 67-year-old man with primary myelofibrosis presented with right upper quadrant discomfort
and worsening anemia over six months.</p>
<h2>Findings</h2>
<p>Contrast-enhanced CT showed multiple hypodense hepatic nodules up to 2.4 cm with mild delayed
enhancement and massive splenomegaly. Biopsy of one nodule showed trilineage hematopoietic cells.</p>
<h2>Discussion</h2>
<p>Hepatic extramedullary hematopoiesis in myelofibrosis can mimic metastases; the clinical setting
of marrow failure and the biopsy establish the diagnosis.</p>
</article>
<aside><h3>Related cases</h3><ul><li><a href="/c/1">Paravertebral masses in thalassemia</a></li></ul></aside>
</main>
<footer><p>{HTML_FOOTER}</p><a href="/share">Share this case on social media</a></footer>
</body></html>
"""


def case_report_pdf(text_layer: bool = True, password: str | None = None) -> bytes:
    """The two-page case report; without a text layer its lines are drawn as shapes (a 'scan')."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.pdfencrypt import StandardEncryption
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    encrypt = StandardEncryption(password, canPrint=1) if password else None
    canvas = Canvas(out, pagesize=A4, encrypt=encrypt, invariant=True)  # the same bytes every time
    width, height = A4
    for number, page in enumerate(PDF_PAGES, 1):
        lines = [(8, height - 40, HEADER), (8, 40, FOOTER)]
        y = height - 90
        for size, line in page:
            lines.append((size, y, line))
            y -= size * 1.6 + (8 if size > 11 else 0)
        for size, y, line in lines:
            if not text_layer:
                canvas.rect(72, y, 4 * len(line), size * 0.7, fill=1)
                continue
            canvas.setFont("Helvetica-Bold" if size > 11 else "Helvetica", size)
            canvas.drawString(72, y, line)
        if text_layer:
            canvas.drawRightString(width - 72, 40, str(number))
        canvas.showPage()
    canvas.save()
    return out.getvalue()
