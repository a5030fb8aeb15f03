"""The core's own features as plugins (``suitecrm_ext.plugins.DEFAULT_PLUGINS``), as datasette does.

Each module implements hooks of ``suitecrm_ext.hookspecs`` exactly as an installed plugin would:
``commands`` (the core CLI), ``checks`` (doctor checks and config warnings), ``maintenance`` (the
state-maintenance job), ``demo`` (the opening and closing scenes of ``suitecrm-ext demo``). They are
always loaded, before any installed plugin, and ``plugins list --all`` shows them.
"""
