"""The package installs into a new virtual environment and finds its six plugins there."""

from __future__ import annotations

import json
import site as site_module
import subprocess
import sys
from pathlib import Path

from test_plugins import SHIPPED

ROOT = Path(__file__).parent.parent


def test_fresh_venv_install_lists_the_six_plugins(tmp_path):
    venv = tmp_path / "venv"
    # system site packages give the dependencies without a download; the project itself is built
    # and installed as a wheel, so packaging mistakes (missing package data, entry points) show here
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    # when the tests themselves run in a virtualenv, its packages are not the "system" ones: add the
    # running interpreter's site-packages as plain path entries (their .pth files, e.g. an editable
    # install of this project, are not processed, so the wheel below is what gets imported)
    new_site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; "
                               "print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    Path(new_site, "_running_env.pth").write_text("\n".join(site_module.getsitepackages()) + "\n")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
           "--disable-pip-version-check"]
    subprocess.run([*pip, str(ROOT)], check=True, cwd=tmp_path, capture_output=True)
    out = subprocess.run([str(venv / "bin" / "suitecrm-ext"), "--config", str(tmp_path / "none.yaml"),
                          "plugins", "list", "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert SHIPPED <= set(rows)
    assert all(rows[n]["enabled"] and not rows[n]["error"] for n in SHIPPED)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import suitecrm_ext, os; "
                           "print(os.path.dirname(suitecrm_ext.__file__))"],
                          capture_output=True, text=True, cwd=tmp_path, check=True).stdout.strip()
    assert str(venv) in site, "the wheel, not the source tree, must be imported"
