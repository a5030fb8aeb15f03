"""Mutated statement files: either a clean import or a clear StatementError — never another exception,
never a partial write."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onec_kit import FIXTURES, install_schema

from plugins.onec_bridge.importer import ImportOptions, PaymentImporter
from plugins.onec_bridge.statement import StatementError, parse_statement
from plugins.onec_bridge.writers import MODULE, ApiPaymentWriter
from suitecrm_ext.testing import FakeCRM

LINES = (FIXTURES / "statement_windows.txt").read_bytes().decode("cp1251").split("\r\n")
JUNK = st.text(alphabet="=0123456789.,-:;ABCЙЦУКЕНСекцияДокументКонец \t", max_size=30)


@st.composite
def mutated(draw) -> bytes:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "value", "insert", "swap", "key"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "value":
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}={draw(JUNK)}"
        elif op == "insert":
            lines.insert(i, draw(JUNK))
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = draw(JUNK) + "=" + lines[i].split("=", 1)[-1]
        if not lines:
            break
    data = "\r\n".join(lines).encode("cp1251", errors="replace")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + bytes(draw(st.binary(max_size=3))) + data[cut + 3:]
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_file_imports_cleanly_or_fails_clearly_and_writes_nothing(data):
    crm = FakeCRM(["Accounts", "Tasks", "Users"])
    install_schema(crm)
    crm.save("Accounts", {"name": "РТК", "ao_inn_c": "7707049388", "ao_kpp_c": "770701001"})
    importer = PaymentImporter(crm, ApiPaymentWriter(crm), ImportOptions())
    try:
        statement = parse_statement(data, source="mutated.txt")
    except StatementError as exc:
        assert str(exc).startswith("mutated.txt")
        assert exc.reason
        assert crm.records(MODULE) == []
        return
    summary = importer.run(statement.payments)
    keys = {p.key for p in statement.payments}
    stored = [r.get("onec_key") for r in crm.records(MODULE)]
    assert sorted(stored) == sorted(keys)  # every payment once, nothing else
    assert summary.new == len(keys)
    assert summary.matched + summary.unmatched + summary.ignored == len(keys)
