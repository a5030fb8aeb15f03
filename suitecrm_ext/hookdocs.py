"""docs/hooks.md, generated from the docstrings of ``suitecrm_ext.hookspecs`` (the reference is the code).

``python -m suitecrm_ext.hookdocs`` rewrites docs/hooks.md; ``--check`` exits 1 when it is out of date
(tests/test_hookdocs.py does the same).
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from suitecrm_ext import hookspecs

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"


def hook_names() -> list[str]:
    """Every hookspec, in the order hookspecs.py defines them."""
    funcs = [(n, f) for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if n.startswith("ext_") and f.__module__ == hookspecs.__name__]
    return [n for n, f in sorted(funcs, key=lambda nf: nf[1].__code__.co_firstlineno)]


def _signature(func) -> str:
    sig = inspect.signature(func)
    params = ", ".join(f"{name}: {p.annotation}" if p.annotation is not inspect.Parameter.empty else name
                       for name, p in sig.parameters.items())
    ret = f" -> {sig.return_annotation}" if sig.return_annotation is not inspect.Signature.empty else ""
    return f"{func.__name__}({params}){ret}"


def _firstresult(func) -> bool:
    opts = getattr(func, f"{hookspecs.hookspec.project_name}_spec", None) or {}
    return bool(opts.get("firstresult"))


_ROLE_RE = re.compile(r":(?:class|func|meth|attr|mod|data|exc):`(~?)([^`]+)`")


def _markdown(doc: str) -> str:
    """Docstring reST to Markdown, for what the hook docstrings use: roles and ``::`` blocks."""
    doc = _ROLE_RE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", doc)
    return re.sub(r"::\n", ":\n", doc)


def render() -> str:
    """The whole of docs/hooks.md."""
    intro = _markdown(inspect.getdoc(hookspecs) or "")
    out = [
        "# Hook reference",
        "",
        "<!-- Generated from suitecrm_ext/hookspecs.py by `python -m suitecrm_ext.hookdocs`; do not edit: "
        "change the docstrings there (a test checks this file is current). -->",
        "",
        intro,
        "",
        "| hook | what for |",
        "| --- | --- |",
    ]
    names = hook_names()
    for name in names:
        summary = " ".join((inspect.getdoc(getattr(hookspecs, name)) or "").strip().split("\n\n")[0].split())
        cell = _markdown(summary).replace("|", "\\|")
        out.append(f"| [`{name}`](#{name}) | {cell} |")
    for name in names:
        func = getattr(hookspecs, name)
        out += ["", f"## {name}", "", "```python", _signature(func), "```", ""]
        if _firstresult(func):
            out += ["*firstresult*: the first non-None answer wins.", ""]
        out.append(_markdown(inspect.getdoc(func) or ""))
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/hooks.md, or with ``--check`` say whether it is current (exit 1 when not)."""
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is out of date: run python -m suitecrm_ext.hookdocs", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
