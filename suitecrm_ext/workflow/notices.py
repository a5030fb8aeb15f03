"""Notices: a SuiteCRM Task and an e-mail per user, idempotent by a key, and e-mail templates (Jinja2).

Idempotency: every notice has a key (derived from what caused it: the event key, the step, the user). A
Task carries its key in its description (``ref: <marker> <key>``); before creating one the notifier
looks in the state store, then in SuiteCRM, so a crash between the Task's save and the state write is
harmless: a retry finds the Task and never makes a second one. An e-mail is marked sent in the state
store once SMTP accepted it: a crash between the two may send it twice (at least once), never zero times.

Templates: a YAML catalogue of named templates, each with a ``subject`` and a ``body`` per language
(``en_us``, ``ru_ru``), rendered with Jinja2's sandbox and StrictUndefined (a missing variable is an error
when rendering, a syntax error is one when loading, naming the template, language and line)::

    review_needed:
      subject:
        en_us: "Application {{ record.name }} is waiting for your review"
        ru_ru: "Заявка {{ record.name }} ожидает вашей проверки"
      body:
        en_us: |
          Hello {{ user.name }}, ...
        ru_ru: |
          Здравствуйте, {{ user.name }}! ...
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from suitecrm_ext.crm.base import CRM, Cond, all_of
from suitecrm_ext.workflow.access import User

LANGUAGES = ("en_us", "ru_ru")
TASK_NAME_MAX = 50  # tasks.name is varchar(50) in SuiteCRM 7.14

log = logging.getLogger("suitecrm_ext.workflow")


def notice_key(*parts: str) -> str:
    """A short stable key from the parts (event key, record id, purpose, user id)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Notice:
    """One thing to tell one user about one record."""

    key: str
    user_id: str
    email: str
    subject: str
    body: str
    parent_module: str
    parent_id: str
    due: object = None  # date or datetime for the Task's due date, or None


class Notifier:
    """Creates Tasks in SuiteCRM and sends e-mails, each at most once per notice key.

    ``state``: the state store (kv namespace ``state_ns``); ``mailer``: a Mailer or None (no e-mail);
    ``marker``: the word in the Task's ``ref:`` line (one per plugin keeps their keys apart).
    """

    def __init__(
        self,
        crm: CRM,
        state: Any,
        mailer: Any = None,
        *,
        state_ns: str = "workflow",
        marker: str = "workflow",
        subject_prefix: str = "",
    ):
        self.crm = crm
        self.state = state
        self.mailer = mailer
        self.state_ns = state_ns
        self.marker = marker
        self.subject_prefix = subject_prefix

    def _marker(self, key: str) -> str:
        return f"ref: {self.marker} {key}"

    def task(self, notice: Notice) -> str:
        """Create the notice's Task unless it already exists; returns the Task id."""
        skey = f"task:{notice.key}"
        done = self.state.kv_get(self.state_ns, skey)
        if done:
            return str(done)
        found = self.find_task(notice.parent_id, notice.key)
        if found is not None:
            task_id = found
        else:
            values = {
                "name": notice.subject[:TASK_NAME_MAX],
                "parent_type": notice.parent_module,
                "parent_id": notice.parent_id,
                "assigned_user_id": notice.user_id,
                "status": "Not Started",
                "priority": "Medium",
                "description": f"{notice.body}\n\n{self._marker(notice.key)}",
            }
            if notice.due is not None:
                values["date_due"] = notice.due
                values["date_due_flag"] = False
            task_id = self.crm.save("Tasks", values)
        self.state.kv_set(self.state_ns, skey, task_id)
        return task_id

    def find_task(self, parent_id: str, key: str) -> str | None:
        """The id of the Task made for ``key`` on this parent, if SuiteCRM has it."""
        marker = self._marker(key)
        found = next(
            iter(
                self.crm.find(
                    "Tasks",
                    all_of(Cond("parent_id", "eq", parent_id), Cond("description", "like", f"%{marker}%")),
                    ["id"],
                    limit=1,
                )
            ),
            None,
        )
        return found.id if found is not None else None

    def mail(self, notice: Notice) -> bool:
        """Send the notice's e-mail unless already sent; False when the user has no address."""
        skey = f"mail:{notice.key}"
        if self.state.kv_get(self.state_ns, skey):
            return True
        if not notice.email:
            log.warning(
                "user %s has no e-mail address; not mailed about %s %s",
                notice.user_id,
                notice.parent_module,
                notice.parent_id,
            )
            return False
        if self.mailer is None:
            return False
        self.mailer.send([notice.email], f"{self.subject_prefix} {notice.subject}".strip(), notice.body)
        self.state.kv_set(self.state_ns, skey, True)
        return True

    def deliver(self, notice: Notice, *, task: bool = True, email: bool = True) -> str | None:
        """Task and/or e-mail for one notice; returns the Task id (None without a Task)."""
        if not notice.user_id:
            return None
        task_id = self.task(notice) if task else None
        if email and self.mailer is not None:
            self.mail(notice)
        return task_id

    def to_users(
        self,
        users: Iterable[User],
        *,
        key: str,
        subject: str | Any,
        body: str | Any,
        parent_module: str,
        parent_id: str,
        due: object = None,
        task: bool = True,
        email: bool = True,
    ) -> dict[str, str | None]:
        """One notice per active user (key = ``key`` + user id); ``subject``/``body`` may be callables
        ``fn(user) -> str`` (e.g. a rendered template). Returns user id → Task id."""
        out: dict[str, str | None] = {}
        for user in users:
            if not user.active or user.id in out:
                continue
            s = subject(user) if callable(subject) else subject
            b = body(user) if callable(body) else body
            out[user.id] = self.deliver(
                Notice(notice_key(key, user.id), user.id, user.email, s, b, parent_module, parent_id, due),
                task=task,
                email=email,
            )
        return out


# --- templates -----------------------------------------------------------------------------------


class TemplateError(ValueError):
    """A template does not compile or does not render; the message names template, language, line."""


@dataclass(frozen=True)
class Rendered:
    """A rendered template."""

    subject: str
    body: str


class Templates:
    """Named e-mail/Task texts with ``en_us``/``ru_ru`` versions (see the module docstring)."""

    def __init__(
        self, data: Mapping[str, Any], *, source: str = "<templates>", default_language: str = "en_us"
    ):
        self.source = source
        self.default_language = default_language
        self.env = SandboxedEnvironment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        self._compiled: dict[tuple[str, str, str], jinja2.Template] = {}
        problems = []
        if not isinstance(data, Mapping):
            raise TemplateError(f"{source}: templates are a mapping of name: {{subject: ..., body: ...}}")
        for name, spec in data.items():
            if not isinstance(spec, Mapping) or set(spec) != {"subject", "body"}:
                problems.append(f"{source}: template {name!r}: needs exactly subject and body")
                continue
            for part in ("subject", "body"):
                texts = spec[part]
                if isinstance(texts, str):
                    texts = {lang: texts for lang in LANGUAGES}
                if not isinstance(texts, Mapping) or not texts:
                    problems.append(
                        f"{source}: template {name!r}.{part}: give a text per language "
                        f"({', '.join(LANGUAGES)})"
                    )
                    continue
                for lang, text in texts.items():
                    if lang not in LANGUAGES:
                        problems.append(
                            f"{source}: template {name!r}.{part}: unknown language {lang!r} "
                            f"(known: {', '.join(LANGUAGES)})"
                        )
                        continue
                    try:
                        self._compiled[(name, part, lang)] = self.env.from_string(str(text))
                    except jinja2.TemplateSyntaxError as exc:
                        problems.append(
                            f"{source}: template {name!r}.{part}.{lang} line {exc.lineno}: {exc.message}"
                        )
        if problems:
            raise TemplateError("; ".join(problems))
        self.names = sorted({n for n, _, _ in self._compiled})

    @classmethod
    def from_file(cls, path: str | Path, **kw: Any) -> Templates:
        """Load a YAML catalogue file."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise TemplateError(f"{p}: cannot read templates: {exc}") from None
        return cls(data or {}, source=str(p), **kw)

    def has(self, name: str) -> bool:
        """Whether a template of this name exists."""
        return name in self.names

    def render(self, name: str, language: str | None = None, **context: Any) -> Rendered:
        """Subject and body of template ``name`` in ``language`` (falling back to en_us, then to any)."""
        lang = language or self.default_language
        out = []
        for part in ("subject", "body"):
            tpl = None
            for candidate in (lang, "en_us", *LANGUAGES):
                tpl = self._compiled.get((name, part, candidate))
                if tpl is not None:
                    break
            if tpl is None:
                raise TemplateError(
                    f"{self.source}: no template {name!r} (templates: {', '.join(self.names)})"
                )
            try:
                out.append(tpl.render(**context))
            except jinja2.TemplateError as exc:
                raise TemplateError(f"{self.source}: template {name!r}.{part}.{lang}: {exc}") from None
        return Rendered(" ".join(out[0].split()), out[1])


__all__ = ["LANGUAGES", "Notice", "Notifier", "Rendered", "TemplateError", "Templates", "notice_key"]
