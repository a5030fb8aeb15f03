"""hello: a complete tiny suitecrm-ext plugin (see docs/plugin-authoring.md)."""
