"""Drive SuiteCRM's web UI over HTTP as a browser would: log in through the login form, follow forms.

``WebUI(lab)`` keeps one ``requests.Session`` (cookies; a Referer header, which SuiteCRM's XSRF check
wants on admin actions) per instance. Forms are read from the returned HTML with the stdlib parser.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import requests

from suitecrm_ext.lab import LabInstance


class FormReader(HTMLParser):
    """Collects the inputs (and selected options) of one form (by name, or the first one)."""

    def __init__(self, name: str | None = None):
        super().__init__()
        self.name = name
        self.inside = False
        self.done = False
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and not self.done and not self.inside:
            if self.name is None or a.get("name") == self.name or a.get("id") == self.name:
                self.inside, self.action = True, a.get("action", "")
            return
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "on")
            elif kind not in ("submit", "button", "image", "file"):
                self.fields[a["name"]] = a.get("value", "")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self.fields.setdefault(a["name"], "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside, self.done = False, True
        elif tag == "select":
            self._select = None


def read_form(page: str, name: str | None = None) -> tuple[str, dict[str, str]]:
    """(action, fields) of the form ``name`` in ``page``; AssertionError when there is none."""
    reader = FormReader(name)
    reader.feed(page)
    if reader.action is None:
        raise AssertionError(f"no form {name or ''} in the page: {page[:500]}")
    return html.unescape(reader.action), reader.fields


class WebUI:
    """A logged-in browser session on one SuiteCRM instance."""

    def __init__(self, lab: LabInstance, user: str | None = None, password: str | None = None):
        self.url = lab.url
        self.s = requests.Session()
        self.s.headers["Referer"] = self.url + "/index.php"
        self.login(user or lab["SUITECRM_USER"], password or lab["SUITECRM_PASSWORD"])

    def login(self, user: str, password: str) -> None:
        """Post the login form (as the browser does after GET index.php?module=Users&action=Login)."""
        self.s.get(self.url + "/index.php?module=Users&action=Login", timeout=30)
        r = self.s.post(self.url + "/index.php", timeout=30, data={
            "module": "Users", "action": "Authenticate", "return_module": "Users", "return_action": "Login",
            "user_name": user, "username_password": password, "Login": "Log In"})
        if "action=Login" in r.url or 'name="username_password"' in r.text:
            raise AssertionError(f"web login as {user} failed: {r.url}")

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.s.get(self.url + "/" + path.lstrip("/"), timeout=60, **kw)

    def post(self, path: str, data: dict[str, Any], **kw: Any) -> requests.Response:
        return self.s.post(self.url + "/" + path.lstrip("/"), data=data, timeout=120, **kw)

    def detail_view(self, module: str, record_id: str) -> dict[str, str]:
        """A record's DetailView as the user sees it: field name -> the text shown (labels of dropdown
        values, formatted numbers and dates, the related record's name)."""
        page = self.get("index.php", params={"module": module, "action": "DetailView", "record": record_id})
        if page.status_code != 200:
            raise AssertionError(f"DetailView of {module} {record_id}: HTTP {page.status_code}")
        shown = {}
        for m in re.finditer(r'detail-view-field[^"]*"[^>]*field="(\w+)"\s*>(.*?)<div class="inlineEditIcon',
                             page.text, re.S):
            shown[m.group(1)] = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(2))).split())
        if not shown:
            raise AssertionError(f"no DetailView fields in {page.url}")
        return shown

    # --- Admin -> Module Loader --------------------------------------------------------------------

    def module_loader_installed(self) -> dict[str, dict[str, str]]:
        """The "installed" grid of Admin -> Module Loader: name -> {file, version, uninstallable, ...}."""
        page = self.get("index.php?module=Administration&action=UpgradeWizard&view=module").text
        out = {}
        for row in re.findall(r"\[('(?:[^'\\]|\\.)*'(?:, '(?:[^'\\]|\\.)*')+)\]", page):
            cells = [html.unescape(c.replace("\\'", "'")) for c in re.findall(r"'((?:[^'\\]|\\.)*)'", row)]
            if len(cells) == 9 and cells[4] in ("module", "langpack", "theme"):
                name, file, un_file, state, kind, version, date, uninstallable, description = cells
                out[name] = {"file": file, "uninstall_file": un_file, "state": state, "type": kind,
                             "version": version, "date": date, "uninstallable": uninstallable,
                             "description": description}
        return out

    def module_loader_uninstall(self, name: str, *, remove_tables: bool = False) -> str:
        """Press Uninstall on the package ``name`` and confirm, as an admin in the browser; the final page."""
        entry = self.module_loader_installed()[name]
        if entry["uninstall_file"].startswith("UNINSTALLABLE"):
            raise AssertionError(f"Module Loader offers no Uninstall for {name}")
        prep = self.post("index.php?module=Administration&view=module&action=UpgradeWizard_prepare",
                         {"install_file": entry["uninstall_file"], "mode": "Uninstall"})
        action, fields = read_form(prep.text, "files")
        fields["remove_tables"] = "true" if remove_tables else "false"
        return self.post(action, fields).text
