"""What real bank statements showed (issue 19): transfers between the organisation's own accounts,
files whose Cyrillic a wrong conversion destroyed, and the spellings banks write in ``Кодировка=``.
Every file here is made for the test from the shipped sample (examples/1c/), in both encodings."""

from __future__ import annotations

import pydantic
import pytest
from click.testing import CliRunner
from onec_kit import ORG_INN, SAMPLE_ACCOUNTS, SAMPLES, add_account, sample_text, write_statement

from plugins.onec_bridge.plugin import Settings
from plugins.onec_bridge.service import import_file
from plugins.onec_bridge.statement import StatementError, parse_statement, parse_statement_file
from plugins.onec_bridge.writers import MODULE
from suitecrm_ext.cli import cli
from suitecrm_ext.context import AppContext

CODECS = ["cp1251", "utf-8"]
INCOMING = ["418", "95", "7", "2031"]


def tasks(crm):
    return [t for t in crm.records("Tasks") if t.get("parent_type") == MODULE]


# --- 1. transfers between own accounts ---------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_the_sample_statement_reads_the_same_in_both_encodings(codec):
    st = parse_statement_file(SAMPLES[codec])
    assert st.encoding == codec and st.version == "1.03"
    assert st.accounts == SAMPLE_ACCOUNTS
    assert [b["РасчСчет"] for b in st.balances] == SAMPLE_ACCOUNTS
    assert [p.number for p in st.payments] == INCOMING
    assert (st.documents, st.outgoing, st.transfers) == (7, 1, 2)
    assert st.payments[2].payer_inn == "500100732259" and st.payments[2].payer_bik == "044525974"


@pytest.mark.parametrize("codec", CODECS)
def test_transfers_between_own_accounts_are_skipped_and_counted_not_parked_as_payments(crm, ctx_factory,
                                                                                      codec):
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    summary = import_file(ctx_factory(), SAMPLES[codec])
    # "Прочее" from one own account to the other, and the organisation paying itself from another bank
    assert (summary.total, summary.transfers, summary.skipped) == (4, 2, 1)
    stored = crm.records(MODULE)
    assert sorted(r.get("payment_number") for r in stored) == sorted(INCOMING)
    assert not [r for r in stored if r.get("payer_inn") == ORG_INN]
    assert len(tasks(crm)) == 3  # only the real payments without an Account get a Task


@pytest.mark.parametrize("codec", CODECS)
def test_the_organisations_own_inn_from_config_marks_a_transfer_the_file_alone_cannot_tell(crm, ctx_factory,
                                                                                          tmp_path, codec):
    # the bank left out the receiver's INN: only the configured own INN tells the document is a transfer
    text = drop_line(sample_text(), document="Номер=44", key="ПолучательИНН=")
    path = write_statement(tmp_path / "st.txt", text, codec)
    without = parse_statement_file(path)
    assert "44" in [p.number for p in without.payments] and without.transfers == 1
    with_config = parse_statement_file(path, own_inns=[ORG_INN])
    assert [p.number for p in with_config.payments] == INCOMING and with_config.transfers == 2
    summary = import_file(ctx_factory(own_inn=[ORG_INN]), path)
    assert summary.transfers == 2 and len(crm.records(MODULE)) == 4


def drop_line(text: str, *, document: str, key: str) -> str:
    """``text`` without the ``key`` line of the document that has the line ``document``."""
    docs = text.split("СекцияДокумент=")
    (i,) = [n for n, d in enumerate(docs) if f"\r\n{document}\r\n" in d]
    docs[i] = "\r\n".join(line for line in docs[i].split("\r\n") if not line.startswith(key))
    return "СекцияДокумент=".join(docs)


def test_an_own_inn_with_bad_check_digits_is_a_config_error_naming_it():
    with pytest.raises(pydantic.ValidationError, match=r"own_inn[\s\S]*INN 7736207544 is invalid"):
        Settings.model_validate({"own_inn": ["7736207544"]})
    assert Settings.model_validate({"own_inn": ORG_INN}).own_inn == [ORG_INN]


@pytest.fixture
def run_cli(crm, tmp_path, monkeypatch):
    cfg = tmp_path / "suitecrm-ext.yaml"
    cfg.write_text("suitecrm:\n  url: http://127.0.0.1:9\n"
                   f"state:\n  path: {tmp_path / 'state.sqlite3'}\n"
                   "plugins:\n  onec_bridge: {}\n")
    monkeypatch.setattr(AppContext, "crm", property(lambda self: crm))
    cli.reset_plugin_commands()
    yield lambda *args: CliRunner().invoke(cli, ["--config", str(cfg), "onec", *args], catch_exceptions=False)
    cli.reset_plugin_commands()


def row_of(output: str, label: str) -> str:
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 2 and cells[1].startswith(label):
            return cells[2]
    raise AssertionError(f"no row {label!r} in\n{output}")


def test_the_summary_table_counts_the_transfers(run_cli):
    result = run_cli("import", "--file", str(SAMPLES["cp1251"]))
    assert result.exit_code == 0, result.output
    assert row_of(result.output, "transfers between own accounts") == "2"
    assert row_of(result.output, "skipped") == "1"
    assert row_of(result.output, "new") == "4"


# --- 2. Cyrillic destroyed by a wrong conversion -------------------------------------------------------


def replaced(text: str, by: str) -> str:
    return "".join(by if "А" <= ch <= "я" or ch in "Ёё№" else ch for ch in text)


DESTROYED = {
    # iconv / a text editor told to write ASCII: every letter became '?'
    "question marks (windows-1251 file)": lambda: replaced(sample_text("cp1251"), "?").encode("cp1251"),
    # a tool that did not know the encoding wrote U+FFFD for each letter
    "replacement characters (UTF-8 file)": lambda: replaced(sample_text(), "\ufffd").encode("utf-8"),
    # windows-1251 bytes read as latin-1 and saved as UTF-8
    "windows-1251 read as latin-1, saved as UTF-8": lambda: SAMPLES["cp1251"].read_bytes().decode(
        "latin-1").encode("utf-8"),
    # UTF-8 bytes read as windows-1251 and saved as UTF-8 again
    "UTF-8 read as windows-1251, saved as UTF-8": lambda: SAMPLES["utf-8"].read_bytes().decode(
        "cp1251", errors="replace").encode("utf-8"),
}


@pytest.mark.parametrize("how", list(DESTROYED))
def test_a_file_whose_cyrillic_was_destroyed_says_so_and_names_the_first_bad_line(crm, ctx_factory, tmp_path,
                                                                                 how):
    data = DESTROYED[how]()
    with pytest.raises(StatementError) as info:
        parse_statement(data, source="st.txt")
    err = info.value
    assert err.line == 2, str(err)  # ВерсияФормата= is the first line with letters in it
    msg = str(err)
    assert msg.startswith("st.txt, line 2: ")
    assert "not valid in any of the known encodings" in msg and "first bad line 2" in msg
    assert "destroyed by a wrong conversion" in msg and "Кодировка= cannot be read" in msg
    assert "no Кодировка= line" not in msg
    if how.startswith("question"):
        assert "'?' in place of letters" in msg
    if how.startswith("replacement"):
        assert "U+FFFD" in msg
    path = tmp_path / "st.txt"
    path.write_bytes(data)
    with pytest.raises(StatementError):
        import_file(ctx_factory(), path)
    assert crm.records(MODULE) == [] and tasks(crm) == []


def test_replacement_characters_inside_a_document_stop_the_import_at_their_line(crm, ctx_factory, tmp_path):
    bad = 'Плательщик1=ПАО "\ufffd\ufffd\ufffd\ufffdелеком"'
    text = sample_text().replace('Плательщик1=ПАО "Ростелеком"', bad)
    path = tmp_path / "st.txt"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(StatementError) as info:
        import_file(ctx_factory(), path)
    assert info.value.line == text.splitlines().index(bad) + 1
    assert "U+FFFD" in str(info.value) and "destroyed by a wrong conversion" in str(info.value)
    assert crm.records(MODULE) == []


@pytest.mark.parametrize("codec", CODECS)
def test_a_key_turned_into_question_marks_inside_a_document_is_refused_not_ignored(crm, ctx_factory,
                                                                                  tmp_path, codec):
    # before: the '??????????????' key was taken for an unknown key and the payment imported without INN
    text = sample_text().replace("ПлательщикИНН=7707049388", "?????????????=7707049388")
    path = write_statement(tmp_path / "st.txt", text, codec)
    with pytest.raises(StatementError) as info:
        import_file(ctx_factory(), path)
    assert info.value.line == text.splitlines().index("?????????????=7707049388") + 1
    assert "'?' in place of letters" in str(info.value)
    assert crm.records(MODULE) == []


# --- 3. Кодировка= spellings ---------------------------------------------------------------------------


@pytest.mark.parametrize("spelling, codec", [
    ("windows-1251", "cp1251"), ("Windows-1251", "cp1251"), ("cp1251", "cp1251"), ("CP1251", "cp1251"),
    ("1251", "cp1251"), ("win-1251", "cp1251"), ("utf8", "utf-8"), ("UTF8", "utf-8"),
    ("cp866", "cp866"), ("IBM866", "cp866"),
])
def test_common_spellings_of_the_encoding_are_accepted_and_reported(crm, ctx_factory, tmp_path, spelling,
                                                                    codec):
    text = sample_text().replace("Кодировка=UTF-8", f"Кодировка={spelling}")
    path = tmp_path / "st.txt"
    path.write_bytes(text.encode(codec))
    st = parse_statement_file(path)
    assert st.encoding == codec and st.declared_encoding == spelling
    assert [p.key for p in st.payments] == [p.key for p in parse_statement_file(SAMPLES["utf-8"]).payments]
    assert f"Кодировка={spelling}" in st.encoding_note and "read as" in st.encoding_note
    summary = import_file(ctx_factory(), path)
    assert summary.new == 4
    assert summary.notes == [f"st.txt: {st.encoding_note}"]


@pytest.mark.parametrize("spelling, codec", [("Windows", "cp1251"), ("UTF-8", "utf-8"), ("DOS", "cp866")])
def test_the_standard_spellings_need_no_note(spelling, codec):
    text = sample_text().replace("Кодировка=UTF-8", f"Кодировка={spelling}")
    st = parse_statement(text.encode(codec))
    assert st.encoding == codec and st.encoding_note == ""


def test_the_command_line_says_which_spelling_it_met(run_cli, tmp_path):
    path = tmp_path / "st.txt"
    path.write_bytes(sample_text().replace("Кодировка=UTF-8", "Кодировка=cp1251").encode("cp1251"))
    result = run_cli("import", "--file", str(path))
    assert result.exit_code == 0, result.output
    assert "note: st.txt: Кодировка=cp1251 (the standard spells it Windows) accepted: read as windows-1251" \
        in " ".join(result.output.split())


@pytest.mark.parametrize("spelling", ["KOI8-R", "latin-1", "windows-1252", "Виндовс"])
def test_an_encoding_that_is_no_spelling_of_the_supported_ones_is_still_refused(spelling):
    text = sample_text().replace("Кодировка=UTF-8", f"Кодировка={spelling}")
    with pytest.raises(StatementError, match=r"line 3: unknown encoding .* in Кодировка="):
        parse_statement(text.encode("utf-8"))
