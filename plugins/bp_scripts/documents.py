"""Documents generated from templates for e-mails: DOCX from a DOCX template (docxtpl), PDF from an HTML
template (Jinja2, then WeasyPrint).

Templates live in ``plugins.bp_scripts.documents_dir`` (default ``config/documents``). Both kinds see the
same names as setting templates (``record``, ``related``, ``fetch``, ``steps``, ``now``, ``today``) and the
same filters (``date``, ``money``...). Values are escaped (XML in DOCX, HTML in PDF): a record's text cannot
add markup. WeasyPrint reads only files inside the documents folder (images, CSS) and nothing from the
network: a template cannot make the sidecar fetch a URL.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .templating import TemplateEngine, TemplateProblem

KINDS = {".docx": "docx", ".html": "pdf", ".htm": "pdf"}


class DocumentError(ValueError):
    """A document template is missing, does not compile or does not render; the message says which."""


class DocumentMaker:
    """Renders document templates of one folder."""

    def __init__(self, folder: str | Path, templates: TemplateEngine | None = None):
        self.folder = Path(folder).resolve()
        base = templates or TemplateEngine()
        self.env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=True)
        self.env.filters.update(base.env.filters)

    def path(self, name: str) -> Path:
        """The template file (DocumentError when it is not a file inside the folder)."""
        p = (self.folder / name).resolve()
        if self.folder not in p.parents or not p.is_file():
            raise DocumentError(f"no document template {name!r} in {self.folder}")
        if p.suffix.lower() not in KINDS:
            raise DocumentError(f"{name}: a document template is .docx (DOCX) or .html (PDF)")
        return p

    def check(self, name: str) -> str:
        """Config-time: the template exists and compiles; returns its kind (docx | pdf)."""
        p = self.path(name)
        kind = KINDS[p.suffix.lower()]
        if kind == "docx":
            from docxtpl import DocxTemplate

            try:
                DocxTemplate(str(p)).get_undeclared_template_variables(self.env)
            except jinja2.TemplateSyntaxError as exc:
                raise DocumentError(f"{name}: line {exc.lineno}: {exc.message}") from None
            except Exception as exc:  # noqa: BLE001 - a broken .docx is the admin's to fix
                raise DocumentError(f"{name}: not a DOCX template: {exc}") from None
        else:
            try:
                self.env.from_string(p.read_text(encoding="utf-8"))
            except jinja2.TemplateSyntaxError as exc:
                raise DocumentError(f"{name}: line {exc.lineno}: {exc.message}") from None
        return kind

    def render(self, name: str, context: Mapping[str, Any]) -> tuple[str, bytes]:
        """(kind, bytes) of the document for this context."""
        p = self.path(name)
        kind = KINDS[p.suffix.lower()]
        try:
            return kind, (self._docx(p, context) if kind == "docx" else self._pdf(p, context))
        except (jinja2.TemplateError, TemplateProblem) as exc:  # e.g. a filter refusing this record's value
            raise DocumentError(str(exc)) from None

    def _docx(self, p: Path, context: Mapping[str, Any]) -> bytes:
        from docxtpl import DocxTemplate

        tpl = DocxTemplate(str(p))
        tpl.render(dict(context), self.env, autoescape=True)
        out = io.BytesIO()
        tpl.save(out)
        return out.getvalue()

    def _pdf(self, p: Path, context: Mapping[str, Any]) -> bytes:
        import weasyprint

        html = self.env.from_string(p.read_text(encoding="utf-8")).render(**context)
        return weasyprint.HTML(string=html, base_url=str(p.parent), url_fetcher=self._fetch).write_pdf()

    def _fetch(self, url: str, *args: Any, **kw: Any) -> Any:
        import weasyprint

        if url.startswith("file://"):
            target = Path(url[len("file://") :]).resolve()
            if self.folder in target.parents and target.is_file():
                return weasyprint.default_url_fetcher(url, *args, **kw)
        raise DocumentError(f"a document may use only files of {self.folder}, not {url[:80]}")


__all__ = ["DocumentError", "DocumentMaker", "KINDS"]
