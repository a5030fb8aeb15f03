"""suitecrm_ext.lab: reading lab.sh env files, and the settings it builds for each transport."""

from __future__ import annotations

import pytest

from suitecrm_ext.lab import LabEnvError, read_lab_env

ENV = """# SuiteCRM 7.14.6 lab instance 'crm' (written by lab.sh)
export SUITECRM_LAB_NAME=crm
export SUITECRM_SOAP_PATCHED=1
export SUITECRM_ROOT=/var/lib/suitecrm-lab/crm
export SUITECRM_URL=http://127.0.0.1:8080
export SUITECRM_USER=admin
export SUITECRM_PASSWORD=admin-lab-pw
export SUITECRM_SOAP_WSDL='http://127.0.0.1:8080/service/v4_1/soap.php?wsdl'
export SUITECRM_V8_CC_CLIENT_ID=892cf4d1-55ff-4cdb-aed9-27e7c66d1a49
export SUITECRM_V8_CC_CLIENT_SECRET=crm-cc-secret
export SUITECRM_V8_PASSWORD_CLIENT_ID=c81fda1f-f4fd-4eb2-a309-1ae1b187ad4b
export SUITECRM_V8_PASSWORD_CLIENT_SECRET=crm-pw-secret
export SUITECRM_DB_HOST=127.0.0.1
export SUITECRM_DB_PORT=3306
export SUITECRM_DB_NAME=suitecrm_crm
export SUITECRM_DB_USER=suitecrm_crm
export SUITECRM_DB_PASSWORD=crm-db-lab-pw
export SUITECRM_RO_DB_USER=crm_reader
export SUITECRM_RO_DB_PASSWORD=crm-reader-lab-pw
"""


def test_reads_every_export_line_and_unquotes(tmp_path):
    p = tmp_path / "crm.env"
    p.write_text(ENV)
    inst = read_lab_env(p)
    assert inst.name == "crm" and inst.url == "http://127.0.0.1:8080" and inst.soap_patched
    assert inst["SUITECRM_SOAP_WSDL"] == "http://127.0.0.1:8080/service/v4_1/soap.php?wsdl"
    assert str(inst.root) == "/var/lib/suitecrm-lab/crm"


def test_sections_validate_for_every_transport(tmp_path):
    p = tmp_path / "crm.env"
    p.write_text(ENV)
    inst = read_lab_env(p)
    for via in ("rest", "v8", "soap"):
        s = inst.settings(via)
        assert s.write_via == via and s.mysql is None
    pw = inst.settings("v8", v8_grant="password")
    assert pw.v8.grant == "password" and pw.v8.username == "admin"
    ro = inst.settings("rest", read_via="mysql")
    assert ro.mysql.user == "crm_reader" and ro.mysql.database == "suitecrm_crm"
    assert inst.db_params()["user"] == "suitecrm_crm"


@pytest.mark.parametrize("text, message", [
    ("export SUITECRM_URL=http://x\n", "no SUITECRM_USER= line"),
    ("export SUITECRM_URL=http://x\nthis is not a line\n", ":2: not an 'export NAME=value' line"),
    ("export SUITECRM_URL='http://x\n", ":1: SUITECRM_URL: No closing quotation"),
])
def test_broken_env_files_name_the_file_and_line(tmp_path, text, message):
    p = tmp_path / "bad.env"
    p.write_text(text)
    with pytest.raises(LabEnvError) as err:
        read_lab_env(p)
    assert str(p) in str(err.value) and message in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(LabEnvError, match="cannot read the lab env file .*nope.env"):
        read_lab_env(tmp_path / "nope.env")
