"""``wait_for`` (step key ``wait:``): the process waits until the record meets a condition.

::

    - name: assembled
      wait: {until: {field: bp_assembled_c, eq: true}}
      timeout: 2d          # working time; then on_timeout: park (default) or skip

The condition is looked at when the record changes (push or polling) and on every pass of the job.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from suitecrm_ext.workflow import Facts, Script, ScriptResult, ScriptRun, Waiting, condition_type

from ..predicates import PREDICATES


class Settings(BaseModel):
    """Settings of ``wait_for``."""

    model_config = ConfigDict(extra="forbid")

    until: condition_type(predicates=PREDICATES)  # type: ignore[valid-type]


def run(run: ScriptRun, s: Settings) -> ScriptResult:
    """Done when the condition holds on the record now."""
    facts = Facts(
        run.record, None, module=run.module, record_id=run.record_id, extra={"today": run.now.date()}
    )
    if s.until.holds(facts):
        return ScriptResult("the condition holds")
    raise Waiting(
        f"waiting until {s.until.why_not(facts) or 'the condition holds'}".replace(
            "waiting until ", "waiting: ", 1
        )
    )


SCRIPT = Script("wait_for", run, Settings, summary="Wait until the record meets a condition")
