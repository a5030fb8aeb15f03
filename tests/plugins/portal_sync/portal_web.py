"""The portal SuiteCRM's web entry points the sync uses, emulated over a FakeCRM on loopback HTTP.

Modelled on SuiteCRM 7.14.6's own code (modules/Users/GeneratePassword.php, Changenewpassword.php,
modules/ACLRoles/Save.php) and checked against the real instance in tests/live/test_portal_*.py:

- ``POST index.php?entryPoint=GeneratePassword`` (``user_name``, ``Users0emailAddress0``, ``link=1``):
  the user must exist with that primary address and not be portal-only or a group user (else the
  page says "Provide both a User Name and an Email Address."); a one-time link (guid + key, the key
  stored hashed) is made and e-mailed over SMTP; the answer is ``1``;
- ``POST index.php?entryPoint=Changenewpassword`` (``guid``, ``key``, ``login=1``, ``user_name``,
  ``new_password``): a valid, unexpired, unused link for that user sets the password and
  ``pwd_last_changed`` — by a direct UPDATE in SuiteCRM, so ``date_modified`` does not move — marks
  the link used and redirects (302) to the first-login wizard; any other request redirects to Login;

(Role rights need no emulation: the FakeCRM keeps them itself for the core's RoleRights.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import smtplib
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from suitecrm_ext import Cond
from suitecrm_ext.testing import FakeCRM

LBL_PROVIDE = "Provide both a User Name and an Email Address."


class PortalWeb:
    """The emulated entry points (``url``), sending mail to ``smtp_port``."""

    def __init__(self, crm: FakeCRM, smtp_port: int, *, link_minutes: int = 30):
        self.crm = crm
        self.smtp_port = smtp_port
        self.link_minutes = link_minutes
        self.links: dict[str, dict[str, Any]] = {}
        self.passwords: dict[str, str] = {}
        self.down = False
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL (``http://127.0.0.1:<port>``)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def _now(self) -> dt.datetime:
        now = self.crm.clock()
        return now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)

    # --- the entry points ---------------------------------------------------------------------

    def generate_password(self, form: dict[str, str]) -> str:
        user_name, email = form.get("user_name", ""), form.get("Users0emailAddress0", "")
        if not user_name or not email or form.get("link") != "1":
            return LBL_PROVIDE
        user = next(
            iter(
                self.crm.find(
                    "Users",
                    Cond("user_name", "eq", user_name),
                    ["email1", "portal_only", "is_group", "user_name"],
                    limit=1,
                )
            ),
            None,
        )
        if user is None or str(user.get("email1") or "").lower() != email.lower():
            return LBL_PROVIDE
        if user.get("portal_only") or user.get("is_group"):
            return LBL_PROVIDE
        guid, key = secrets.token_hex(16), secrets.token_hex(16)
        self.links[guid] = {
            "key_hash": hashlib.sha256(key.encode()).hexdigest(),
            "user_id": user.id,
            "username": user_name,
            "date_generated": self._now(),
            "deleted": False,
        }
        link = f"{self.url}/index.php?entryPoint=Changenewpassword&guid={guid}&key={key}"
        msg = EmailMessage()
        msg["From"] = "SuiteCRM <do_not_reply@example.com>"
        msg["To"] = email
        msg["Subject"] = "Reset your account password"
        msg.set_content(
            f"You recently requested to be able to reset your account password.\n\n"
            f"Click on the link below to reset your password:\n\n{link}\n"
        )
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as smtp:
            smtp.send_message(msg)
        return "1"

    def change_password(self, form: dict[str, str]) -> tuple[int, str]:
        row = self.links.get(form.get("guid", ""))
        key = form.get("key", "")
        if row is None or row["deleted"] or hashlib.sha256(key.encode()).hexdigest() != row["key_hash"]:
            return 302, "index.php?action=Login&module=Users"
        if self._now() > row["date_generated"] + dt.timedelta(minutes=self.link_minutes):
            row["deleted"] = True
            return 302, "index.php?action=Login&module=Users"
        if (
            form.get("login") != "1"
            or form.get("user_name") != row["username"]
            or not form.get("new_password")
        ):
            return 200, "form"
        self.passwords[row["user_id"]] = form["new_password"]
        # User::setNewPassword: a direct UPDATE of user_hash, pwd_last_changed (date_modified stays)
        self.crm._modules["Users"].rows[row["user_id"]]["pwd_last_changed"] = self._now().replace(
            microsecond=0
        )
        row["deleted"] = True
        return 302, "index.php?module=Users&action=Wizard"

    # --- HTTP ---------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        web = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: str, location: str | None = None, cookie: str | None = None):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                if location:
                    self.send_header("Location", location)
                if cookie:
                    self.send_header("Set-Cookie", f"PHPSESSID={cookie}; path=/")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._send(503 if web.down else 200, "SuiteCRM")

            def do_POST(self) -> None:  # noqa: N802
                if web.down:
                    self._send(503, "Service Unavailable")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                entry = query.get("entryPoint")
                if entry == "GeneratePassword":
                    self._send(200, web.generate_password(form))
                elif entry == "Changenewpassword":
                    status, where = web.change_password(form)
                    self._send(
                        status, "" if status == 302 else where, location=where if status == 302 else None
                    )
                else:
                    self._send(404, "not emulated")

        return Handler
