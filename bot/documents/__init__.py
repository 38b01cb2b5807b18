"""Formal documents on paper (DOMAIN.md, Documents): a Telegram message informs; these are what is served.

- records: each issuer numbers its own documents (`issue`, `issue_report`), one row per recipient with the facts it
  stated; `record_delivery` (送达: in person, refused with a witness, by post, and the date), which deadlines read
  (`delivered_on`: the court application 10 days after the 催告书 was delivered)
- pdf: a document as a PDF on demand (`print_document`: scope-checked, with its 送达回证 and, for a guardian not in
  the bot, a QR code with a single-use join code); the pipeline is templates (Jinja2, `locales/<lang>/documents`)
  → tagged lines → layout (fpdf2, A4, the CJK font)
- casefile: `case_file`, the student, the history, every notice as sent and every document with its delivery
- slips: invite slips to cut from A4 (`render_slips`, `invite_slips`)
- cli: `quanxue case-file CASE --output FILE.pdf`

Plain Python, no aiogram. The PDFs are never stored: the records are, and the PDFs are produced from them.
"""
