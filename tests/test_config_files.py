"""suitecrm_ext.load_yaml_files: definition files (a file, folders, globs) with file:line errors."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field

from suitecrm_ext import ConfigError, YamlFile, load_yaml_files


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int = Field(ge=0)


class ItemFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Item] = Field(min_length=1)


GOOD = "items:\n  - name: a\n    size: 1\n"


def good(name: str) -> str:
    return f"items:\n  - name: {name}\n    size: 1\n"


def names(files: list[YamlFile]) -> list[str]:
    return [i.name for f in files for i in f.model.items]


def test_a_single_file_is_loaded(tmp_path):
    f = tmp_path / "one.yaml"
    f.write_text(GOOD)
    (loaded,) = load_yaml_files(str(f), ItemFile)
    assert loaded.path == str(f) and names([loaded]) == ["a"]


def test_files_folders_and_globs_load_in_order(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.yaml").write_text(good("b"))
    (tmp_path / "d" / "a.yml").write_text(good("c"))
    (tmp_path / "d" / "notes.txt").write_text("not yaml")
    (tmp_path / "g1.yaml").write_text(good("g1"))
    (tmp_path / "g2.yaml").write_text(good("g2"))
    files = load_yaml_files([tmp_path / "d", str(tmp_path / "g*.yaml")], ItemFile)
    assert names(files) == ["c", "b", "g1", "g2"]


def test_a_bad_entry_names_file_line_and_key(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("items:\n  - name: a\n    size: 1\n  - name: b\n    size: -3\n")
    with pytest.raises(ConfigError) as err:
        load_yaml_files([f], ItemFile)
    assert err.value.problems == [
        f"{f}:5: items[1].size: Input should be greater than or equal to 0"
    ]


def test_every_problem_of_every_source_is_reported_together(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("items:\n  - name: a\n    colour: red\n    size: 1\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("items: [\n")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError) as err:
        load_yaml_files(
            [bad, broken, tmp_path / "none-*.yaml", tmp_path / "missing.yaml", tmp_path / "empty"],
            ItemFile,
            what="item file",
            setting="plugins.x.item_files",
        )
    p = err.value.problems
    assert p[0].startswith(f"{bad}:3: items[0].colour: unknown key")
    assert p[1].startswith(f"{broken}:2: not valid YAML")
    assert p[2:] == [
        f"{tmp_path}/none-*.yaml: no item file matches (plugins.x.item_files)",
        f"{tmp_path}/missing.yaml: no such item file (plugins.x.item_files)",
        f"{tmp_path}/empty: no item file (*.yaml) in this folder (plugins.x.item_files)",
    ]


def test_validation_context_reaches_the_model(tmp_path):
    from pydantic import ValidationInfo, field_validator

    class Strict(ItemFile):
        @field_validator("items")
        @classmethod
        def _cap(cls, v, info: ValidationInfo):
            if len(v) > info.context["cap"]:
                raise ValueError(f"more than {info.context['cap']} items")
            return v

    f = tmp_path / "one.yaml"
    f.write_text(GOOD + "  - name: b\n    size: 2\n")
    assert len(load_yaml_files(f, Strict, context={"cap": 2})[0].model.items) == 2
    with pytest.raises(ConfigError) as err:
        load_yaml_files(f, Strict, context={"cap": 1})
    assert err.value.problems == [f"{f}:1: items: more than 1 items"]


def test_no_sources_is_no_files():
    assert load_yaml_files([], ItemFile) == []
