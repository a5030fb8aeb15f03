"""The gateway is a lower layer: nothing in suitecrm_ext/crm/ imports the doctor, the CLI, the runtime,
the event machinery or a plugin (the doctor asks the gateway, never the other way round)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CRM = Path(__file__).resolve().parents[2] / "suitecrm_ext" / "crm"
HIGHER = ("suitecrm_ext.doctor", "suitecrm_ext.cli", "suitecrm_ext.runtime", "suitecrm_ext.events",
          "suitecrm_ext.context", "suitecrm_ext.plugins", "suitecrm_ext.jobs", "plugins")


def imported_modules(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append(node.module)
    return out


@pytest.mark.parametrize("path", sorted(CRM.rglob("*.py")), ids=lambda p: str(p.relative_to(CRM)))
def test_crm_modules_import_no_higher_layer(path):
    bad = [m for m in imported_modules(path) if any(m == h or m.startswith(h + ".") for h in HIGHER)]
    assert not bad, f"{path.name} imports {bad}"


def test_the_layering_check_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from suitecrm_ext.doctor import Check\n", encoding="utf-8")
    assert imported_modules(probe) == ["suitecrm_ext.doctor"]
