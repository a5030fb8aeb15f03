"""``suitecrm-ext demo``: the sidecar at work against the in-memory FakeCRM, as a scripted story.

The public surface for plugins that add a scene (hook ``ext_demo_scenes``):

- :class:`DemoScene` — what a plugin contributes: a title, ``play(stage)``, optional ``setup(crm,
  workdir)`` and the plugin ``settings`` for the demo config, an ``order``;
- :class:`DemoStage` — what ``play`` gets: ``say`` (a line of the story), ``save`` / ``delete`` /
  ``relate`` as a SuiteCRM user (through the logic hook: validated before, pushed after, the sidecar
  done with it on return), ``check`` (a claim the story makes; a false one fails the demo),
  ``run_job``, ``crm`` (the FakeCRM), ``ctx(plugin)``, ``user_name(id)``, ``workdir``;
- :class:`Refused` — raised by ``stage.save`` when the sidecar refused the change (the message the
  SuiteCRM user would see);
- :func:`install_plugin_schema` — a plugin's ``schema.yaml`` modules and fields into the FakeCRM;
- :data:`DEMO_USERS` — the demo's SuiteCRM users (the ids of SuiteCRM's own demo data).

A plugin keeps its scene in ``plugins/<name>/demo.py`` and returns it from ``ext_demo_scenes``; see
docs/plugin-authoring.md.
"""

from __future__ import annotations

from suitecrm_ext.demo.data import DEMO_ACCOUNTS, DEMO_USERS
from suitecrm_ext.demo.scene import DemoFailure, DemoScene, Refused, install_plugin_schema
from suitecrm_ext.demo.stage import DemoStage

__all__ = ["DEMO_ACCOUNTS", "DEMO_USERS", "DemoFailure", "DemoScene", "DemoStage", "Refused",
           "install_plugin_schema"]
