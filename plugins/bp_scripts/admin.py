"""The admin's tools on runs: replay a parked step (or skip it) and dry-run a script on a record; a mixin of
:class:`~plugins.bp_scripts.engine.Engine`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from suitecrm_ext.workflow import Memo, Waiting, as_result

from .runs import ADHOC, Run, StepState


class AdminMixin:
    """``replay`` and ``dry_run``."""

    runs: Any
    catalogue: Any
    crm: Any

    def replay(self, run_id: str, *, skip: bool = False) -> Run:
        """Run a parked run's step again (``skip``: pass it and go on). KeyError for an unknown run,
        ValueError when it is not parked."""
        run = self.runs.get(run_id)
        if run is None:
            raise KeyError(run_id)
        if run.status != "parked":
            raise ValueError(f"run {run_id} is {run.status}, not parked")
        st = run.current
        if st is not None:
            if skip:
                st.status, st.summary, st.finished = (
                    "skipped",
                    f"skipped by an admin ({st.error})",
                    self.clock(),
                )
            else:
                st.status, st.failures, st.waiting_since, st.replayed = "pending", 0, None, True
            st.error = ""
        run.status, run.error = "running", ""
        self._save(run)
        return self.advance(run_id) or run

    def dry_run(self, script_name: str, settings: Mapping[str, Any], module: str, record_id: str) -> Any:
        """What a script would do on a record, changing nothing (``bp run --dry-run``)."""
        script = self.catalogue.get(script_name)
        if script is None:
            raise KeyError(script_name)
        parsed = script.parse(settings)
        record = {**self.crm.get(module, record_id).values, "id": record_id}
        run = Run(f"dry-{uuid.uuid4()}", ADHOC, module, record_id, "dry-run", steps=[StepState(script_name)])
        sr = self._script_run(run, run.steps[0], record, dry_run=True)
        sr.memo = _DryMemo()
        try:
            return as_result(script.run(sr, parsed))
        except Waiting as w:
            return as_result(f"would wait: {w}")


class _DryMemo(Memo):
    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    def get(self, name: str, default: Any = None) -> Any:
        return self._data.get(name, default)

    def set(self, name: str, value: Any) -> None:
        self._data[name] = value

    def add(self, name: str, value: Any) -> bool:
        return self._data.setdefault(name, value) is value


__all__ = ["AdminMixin"]
