"""``suitecrm-ext plugin new NAME``: a plugin skeleton that installs, loads and passes its own test.

What it writes (templates in ``suitecrm_ext/templates/plugin/``), in ``DIR/suitecrm-ext-<name>/``:
``pyproject.toml`` (the ``suitecrm_ext.plugins`` entry point, a ``test`` extra, pytest settings),
``README.md``, ``<package>/__init__.py``, ``<package>/plugin.py`` (hook implementations),
``<package>/settings.py`` (the settings model), ``<package>/schema.yaml`` (one custom field on
Accounts) and ``tests/test_plugin.py`` (runs against the FakeCRM with the testing kit's fixtures).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import click

from suitecrm_ext import __version__

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: template file -> path in the new project ({package} is replaced)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "__init__.py.tmpl": "{package}/__init__.py",
    "settings.py.tmpl": "{package}/settings.py",
    "plugin.py.tmpl": "{package}/plugin.py",
    "schema.yaml.tmpl": "{package}/schema.yaml",
    "test_plugin.py.tmpl": "tests/test_plugin.py",
}


def plugin_names(name: str) -> dict[str, str]:
    """The names a new plugin uses, from NAME (``audit-trail`` or ``audit_trail``).

    Raises click.BadParameter for a name that cannot be a Python package and a config key.
    """
    norm = name.strip().lower().replace("-", "_")
    if norm.startswith("suitecrm_ext_"):
        norm = norm[len("suitecrm_ext_"):]
    if not _NAME_RE.match(norm) or norm.endswith("_") or "__" in norm:
        raise click.BadParameter(
            f"{name!r}: use lower-case letters, digits and _ or -, starting with a letter (e.g. audit_trail)",
            param_hint="NAME")
    return {
        "name": norm,
        "package": f"suitecrm_ext_{norm}",
        "dist": "suitecrm-ext-" + norm.replace("_", "-"),
        "package_id": f"sxt_{norm}"[:50],
        "field": f"{norm[:30]}_greeted_c",
    }


def render(template: str, values: dict[str, str]) -> str:
    """``{{key}}`` placeholders replaced by ``values``; an unknown placeholder is a bug, raised."""
    def repl(m: re.Match) -> str:
        return values[m.group(1)]

    return re.sub(r"\{\{(\w+)\}\}", repl, template)


def write_skeleton(name: str, where: Path, *, description: str = "", author: str = "") -> Path:
    """Write the skeleton of plugin NAME into ``where/<dist>``; returns that folder.

    Raises click.ClickException when the folder exists (nothing is overwritten).
    """
    values = plugin_names(name)
    text = description or f"The {values['name']} plugin for suitecrm-ext."
    values["description"] = text.replace('"', "'")
    values["author"] = author or "unknown"
    values["core_version"] = __version__.split("+")[0] if __version__[0].isdigit() else "0.1.0"
    target = where / values["dist"]
    if target.exists():
        raise click.ClickException(f"{target} already exists; choose another name or folder (--dir)")
    templates = resources.files("suitecrm_ext.templates.plugin")
    rendered = {rel.format(package=values["package"]): render(templates.joinpath(tmpl).read_text("utf-8"),
                                                              values)
                for tmpl, rel in FILES.items()}
    for rel, text in rendered.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


@click.group("plugin")
def plugin() -> None:
    """Write your own plugin (see docs/plugin-authoring.md)."""


@plugin.command("new")
@click.argument("name")
@click.option("--dir", "where", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where to create the plugin's folder.")
@click.option("--description", default="", help="One line for pyproject.toml, README and the package.")
@click.option("--author", default="", help="Author shown in the SuiteCRM package.")
def plugin_new(name: str, where: str, description: str, author: str) -> None:
    """Create the skeleton of plugin NAME: entry point, settings model, schema.yaml and a passing test."""
    target = write_skeleton(name, Path(where), description=description, author=author)
    names = plugin_names(name)
    click.echo(f"created {target}/")
    for rel in FILES.values():
        click.echo(f"  {rel.format(package=names['package'])}")
    click.echo("next:")
    click.echo(f"  cd {target} && pip install -e '.[test]' && pytest")
    click.echo(f"  suitecrm-ext plugins list      # shows {names['name']}, enabled, with its hooks")
