"""Tasks, e-mails and Notes of the routing plugin, on the core notices (idempotent by key).

Every notice key names what caused it (``open:<step record id>``, ``remind:<id>``, ``finish:<run id>``),
so a retried event or job pass never sends a second one. Texts are templates.yaml (en_us / ru_ru, the
language of ``plugins.workflow.language``).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suitecrm_ext import Cond, all_of
from suitecrm_ext.workflow import Templates, User, notice_key

if TYPE_CHECKING:
    from plugins.routing.engine import RouteEngine
    from plugins.routing.records import StepRec

TEMPLATES_FILE = Path(__file__).with_name("templates.yaml")
NOTE_NAME_MAX = 255


@lru_cache(maxsize=1)
def templates() -> Templates:
    """The plugin's text catalogue."""
    return Templates.from_file(TEMPLATES_FILE)


class RecordView:
    """How notices show a routed record."""

    def __init__(self, module: str, record_id: str, name: str, url: str):
        self.module, self.id, self.name, self.url = module, record_id, name or record_id, url


class Notify:
    """The plugin's notices over one engine (its CRM, workflow services, settings)."""

    def __init__(self, engine: RouteEngine):
        self.e = engine
        self.lang = engine.wf.settings.language

    # --- helpers ------------------------------------------------------------------------------

    def url(self, module: str, record_id: str, action: str = "DetailView") -> str:
        """A link into SuiteCRM."""
        base = self.e.crm_url
        return (
            f"{base}/index.php?module={module}&action={action}&record={record_id}"
            if base
            else f"{module} {record_id}"
        )

    def record(self, module: str, record_id: str, name: str) -> RecordView:
        """A routed record for templates."""
        return RecordView(module, record_id, name, self.url(module, record_id))

    def when(self, moment: dt.datetime | None) -> str:
        """A time for people: in the business calendar's zone."""
        if moment is None:
            return ""
        local = self.e.wf.calendar.local(moment)
        return local.strftime("%Y-%m-%d %H:%M %Z")

    def _render(self, name: str, user: User, **ctx: Any):
        return templates().render(name, self.lang, user=user, **ctx)

    def _send(
        self,
        users: list[User],
        *,
        key: str,
        template: str,
        parent_module: str,
        parent_id: str,
        task: bool,
        task_due: Any = None,
        **ctx: Any,
    ) -> dict[str, str | None]:
        s = self.e.s.notify
        if not (task and s.tasks) and not s.email:
            return {}
        prefix = s.subject_prefix

        def subject(u: User) -> str:
            return self._render(template, u, **ctx).subject

        def body(u: User) -> str:
            return self._render(template, u, **ctx).body

        notices = self.e.wf.notices
        notices.subject_prefix = prefix
        return notices.to_users(
            users,
            key=key,
            subject=subject,
            body=body,
            parent_module=parent_module,
            parent_id=parent_id,
            due=task_due,
            task=task and s.tasks,
            email=s.email,
        )

    # --- what the engine tells people ---------------------------------------------------------

    def step_opened(
        self,
        rec: StepRec,
        *,
        route_label: str,
        step_label: str,
        decisions: str,
        needs_comment: str,
        done_when: str = "",
        escalated_from: str = "",
    ) -> None:
        """The assignee's Task and e-mail; their deputies' e-mails."""
        user = self.e.wf.access.user(rec.assignee_id)
        ctx = dict(
            route=route_label,
            step=step_label,
            record=self.record(rec.module, rec.record_id, rec.record_name),
            step_url=self.url(self.e.s.steps_module, rec.id, "EditView"),
            due=self.when(rec.due),
            decisions=decisions,
            needs_comment=needs_comment,
            done_when=done_when,
            escalated_from=escalated_from,
            deputy_for="",
        )
        template = "task_open" if rec.kind == "task" else "step_open"
        self._send(
            [user],
            key=f"open:{rec.id}",
            template=template,
            parent_module=rec.module,
            parent_id=rec.record_id,
            task=True,
            task_due=rec.due,
            **ctx,
        )
        if not self.e.s.notify.deputies or rec.kind == "task":
            return
        today = self.e.now().date()
        for did in self.e.wf.deputies.deputies_of(rec.assignee_id, self.e.s.deputy_kind, today):
            deputy = self.e.wf.access.user(did)
            self._send(
                [deputy],
                key=f"open:{rec.id}:deputy",
                template=template,
                parent_module=rec.module,
                parent_id=rec.record_id,
                task=False,
                **{**ctx, "deputy_for": user.display},
            )

    def reminder(self, rec: StepRec, *, route_label: str, step_label: str) -> None:
        """An e-mail before the deadline."""
        user = self.e.wf.access.user(rec.assignee_id)
        self._send(
            [user],
            key=f"remind:{rec.id}",
            template="reminder",
            parent_module=rec.module,
            parent_id=rec.record_id,
            task=False,
            route=route_label,
            step=step_label,
            record=self.record(rec.module, rec.record_id, rec.record_name),
            step_url=self.url(self.e.s.steps_module, rec.id, "EditView"),
            due=self.when(rec.due),
        )

    def escalated_away(self, rec: StepRec, targets: list[User], *, route_label: str, step_label: str) -> None:
        """Tell the assignee whose step went up."""
        user = self.e.wf.access.user(rec.assignee_id)
        self._send(
            [user],
            key=f"escalated:{rec.id}",
            template="escalated_away",
            parent_module=rec.module,
            parent_id=rec.record_id,
            task=False,
            route=route_label,
            step=step_label,
            record=self.record(rec.module, rec.record_id, rec.record_name),
            due=self.when(rec.due),
            targets=", ".join(u.display for u in targets),
        )

    def finished(
        self,
        run_id: str,
        initiator_id: str,
        *,
        module: str,
        record_id: str,
        record_name: str,
        route_label: str,
        outcome: str,
        actor: str,
        comment: str,
    ) -> None:
        """Tell the initiator how the run ended."""
        if not self.e.s.notify.initiator or not initiator_id:
            return
        user = self.e.wf.access.user(initiator_id)
        self._send(
            [user],
            key=f"finish:{run_id}",
            template="finished",
            parent_module=module,
            parent_id=record_id,
            task=False,
            route=route_label,
            outcome=outcome,
            actor=actor,
            comment=comment,
            record=self.record(module, record_id, record_name),
        )

    def close_task(self, rec: StepRec) -> None:
        """Complete the Task of a step record (once its part is done, closed or escalated)."""
        if not rec.assignee_id:
            return
        key = notice_key(f"open:{rec.id}", rec.assignee_id)
        notices = self.e.wf.notices
        task_id = notices.state.kv_get(notices.state_ns, f"task:{key}") or notices.find_task(
            rec.record_id, key
        )
        if task_id:
            done = self.e.state.kv_get("routing", f"task-done:{task_id}")
            if not done:
                self.e.crm.save("Tasks", {"id": str(task_id), "status": "Completed"})
                self.e.state.kv_set("routing", f"task-done:{task_id}", True)

    def note(self, key: str, module: str, record_id: str, template: str, **ctx: Any) -> str:
        """A Note on the routed record (once per key), e.g. why a decision or a change was undone."""
        marker = f"ref: routing {key}"
        found = next(
            iter(
                self.e.crm.find(
                    "Notes",
                    all_of(Cond("parent_id", "eq", record_id), Cond("description", "like", f"%{marker}%")),
                    ["id"],
                    limit=1,
                )
            ),
            None,
        )
        if found is not None:
            return found.id
        text = templates().render(template, self.lang, **ctx)
        return self.e.crm.save(
            "Notes",
            {
                "name": text.subject[:NOTE_NAME_MAX],
                "parent_type": module,
                "parent_id": record_id,
                "description": f"{text.body}\n\n{marker}",
            },
        )
