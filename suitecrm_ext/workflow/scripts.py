"""BP-scripts: the reusable automatic steps of business processes (the ``ext_bp_scripts`` hook's types).

A script is code; its *settings* are the admin's, per use. The bp_scripts plugin runs scripts as steps of
the processes an admin composes in YAML (docs/plugins/bp_scripts.md); any plugin adds scripts through the
``ext_bp_scripts`` hook by returning :class:`Script` objects::

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: str

    def run(run: ScriptRun, s: Settings) -> ScriptResult:
        note_id = run.crm.create("Notes", {"name": run.render(s.text), "parent_type": run.module,
                                           "parent_id": run.record_id}, id=run.guid("note"))
        return ScriptResult(f"note {note_id}", {"note_id": note_id})

    @hookimpl
    def ext_bp_scripts():
        return [Script("add_note", run, Settings, summary="A Note on the record")]

Contract of ``run(run, settings)``:

- **Idempotent by ``run.key``.** After a crash (kill -9 at any line) the same step runs again with the
  same key. Make writes repeat-safe: create records under ids derived from the key
  (``run.guid(purpose)`` with ``crm.create(..., id=...)``), keep what must not be decided twice in
  ``run.memo`` *before* acting on it (the rendered text of an SMS, the provider's message id).
- **Wait honestly.** A step that waits for people or for the record (a Task to be completed, "order
  marked assembled") raises :class:`Waiting` while it is not done; it is run again when its record or a
  watched record changes, and by the periodic job.
- **Fail honestly.** Raise :class:`RetryLater` for a transient failure (provider down, SuiteCRM busy):
  the step is retried with backoff. Raise :class:`ScriptError` when retrying cannot help (a template
  error on this record, a refused phone number): the step is parked with the reason, for an admin to
  replay after fixing it. Never leave a step half done: check what you need (fields, templates,
  attachments) before the first side effect.
- **Dry runs.** With ``run.dry_run`` true, change nothing outside the process: say what would be done
  (``ScriptResult(summary, data)``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

#: the namespace of ids derived from a step key (a SuiteCRM id is a UUID in 8-4-4-4-12 form)
_NAMESPACE = uuid.UUID("5b3f2a9e-6c1d-4e8f-9a7b-2d4c6e8f0a1b")


class ScriptError(Exception):
    """A step failed in a way a retry cannot fix; the message is the reason an admin reads."""


class RetryLater(Exception):
    """A transient failure: retry the step later (``after`` seconds at the earliest, if given)."""

    def __init__(self, message: str, *, after: float | None = None):
        super().__init__(message)
        self.after = after


class Waiting(Exception):
    """The step is not done yet and will be looked at again (the Task is not completed, the record does
    not meet the condition): when the process's record changes, when a record in ``watch`` (``(module,
    id)`` pairs, e.g. the step's Tasks) changes, and on every pass of the ``bp-advance`` job. The message
    says what the step waits for."""

    def __init__(self, message: str, *, watch: tuple[tuple[str, str], ...] | list = ()):
        super().__init__(message)
        self.watch = tuple((str(m), str(i)) for m, i in watch)


@dataclass
class ScriptResult:
    """What a script did: a line for people (kept on the process instance) and data for later steps
    (``steps.<step name>.<key>`` in templates) and for the status command."""

    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Memo:
    """What a step must remember across a crash (the state store, under the step's key)."""

    def __init__(self, state: Any, ns: str, key: str):
        self._state = state
        self._ns = ns
        self._key = key

    def get(self, name: str, default: Any = None) -> Any:
        """The value saved under ``name`` for this step (``default`` when none)."""
        return self._state.kv_get(self._ns, f"{self._key}|{name}", default)

    def set(self, name: str, value: Any) -> None:
        """Save a JSON-serialisable value for this step, durably, before acting on it."""
        self._state.kv_set(self._ns, f"{self._key}|{name}", value)

    def add(self, name: str, value: Any) -> bool:
        """Save only if nothing is saved under ``name`` yet; True when this call saved it."""
        return bool(self._state.kv_add(self._ns, f"{self._key}|{name}", value))


@dataclass
class ScriptRun:
    """Everything a script gets when it runs as a step.

    ``module``/``record_id``: the record the process runs on; ``record``: its values (read when the
    step started); ``key``: stable for this step of this process instance (idempotency); ``crm``:
    the CRM gateway; ``state``: the state store; ``memo``: durable notes of this step; ``render``:
    renders a template text (Jinja2 sandbox) over ``record``, its relations (``related.<link>``),
    ``steps`` (earlier steps' data) and ``now``; ``services``: what the bp_scripts plugin offers
    scripts (``sms`` providers, ``mailer``, ``workflow`` services, ``webhooks``, ``documents``);
    ``dry_run``: change nothing, say what would be done; ``attempt``: 1 on the first run of the step.
    """

    module: str
    record_id: str
    record: Mapping[str, Any]
    key: str
    crm: Any
    state: Any = None
    memo: Memo | None = None
    render: Callable[..., str] = lambda text, **_: text
    services: Mapping[str, Any] = field(default_factory=dict)
    steps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    dry_run: bool = False
    attempt: int = 1
    #: an admin replayed this step after it was parked (e.g. "I checked: that SMS did not go out")
    replayed: bool = False
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    log: Any = None
    #: what ``render`` renders with (record, related, fetch, steps, now, today), for document templates
    context: Mapping[str, Any] = field(default_factory=dict)

    def guid(self, purpose: str = "") -> str:
        """A SuiteCRM id derived from this step's key and ``purpose``: the same on every retry, so
        ``crm.create(module, values, id=run.guid("subscription"))`` never makes a second record."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.key}|{purpose}"))


RunFn = Callable[[ScriptRun, Any], "ScriptResult | Mapping[str, Any] | str | None"]


@dataclass(frozen=True)
class Script:
    """A BP-script: a ``name`` used in process files, ``run(run, settings)``, the pydantic model of its
    per-use ``settings`` (``extra="forbid"``: a typo is a config error with its line; None for a
    script without settings), a one-line ``summary`` for ``bp list`` and the docs.

    ``check(settings, where)`` (optional) checks a use against what is known when the config is
    loaded (``where`` has the process's ``module`` and the plugin's ``services``); it raises
    ValueError with the message the admin reads.
    """

    name: str
    run: RunFn
    settings: type[BaseModel] | None = None
    summary: str = ""
    check: Callable[[Any, Mapping[str, Any]], None] | None = None

    def parse(self, data: Mapping[str, Any] | None) -> Any:
        """Validate one use's settings (pydantic ValidationError on bad ones)."""
        if self.settings is None:
            if data:
                raise ValueError(f"script {self.name} takes no settings")
            return None
        return self.settings.model_validate(dict(data or {}))


def as_result(value: Any) -> ScriptResult:
    """A script's return value as a :class:`ScriptResult` (str → summary, mapping → data)."""
    if isinstance(value, ScriptResult):
        return value
    if value is None:
        return ScriptResult()
    if isinstance(value, str):
        return ScriptResult(value)
    if isinstance(value, Mapping):
        return ScriptResult(str(value.get("summary", "")), {k: v for k, v in value.items() if k != "summary"})
    raise TypeError(f"a script returns a ScriptResult, a str, a mapping or None, not {type(value).__name__}")


__all__ = ["Memo", "RetryLater", "Script", "ScriptError", "ScriptResult", "ScriptRun", "Waiting", "as_result"]
