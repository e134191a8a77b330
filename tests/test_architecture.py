"""The shape of the code: the core never imports what is built on it, kinds come from one registry, and the images'
size is written in the data module only."""

import ast
from pathlib import Path

import pytest

from rlgen.registry import ENTRY_POINT_GROUP, kinds, schemas
from tests.conftest import ROOT

CORE = ROOT / "rlgen"
BUILT_ON_IT = ("rlgen.agents", "rlgen.envs")  # installed from the repository's agents/ and envs/


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (function-level imports included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_the_core_never_imports_the_packages_built_on_it():
    offending = [f"{path.relative_to(ROOT)}:{line} imports {name}"
                 for path in sorted(CORE.rglob("*.py")) for line, name in imported_modules(path)
                 if any(name == built or name.startswith(built + ".") for built in BUILT_ON_IT)]
    assert offending == []


def test_the_import_scan_sees_function_level_imports(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from rlgen.agents.loop import train_agent\n    import rlgen.envs.make\n")
    assert [name for _, name in imported_modules(sample)] == ["rlgen.agents.loop", "rlgen.envs.make"]


def test_every_kind_comes_from_the_entry_point_group():
    from importlib.metadata import entry_points

    announced = {point.name for point in entry_points(group=ENTRY_POINT_GROUP)}
    assert announced == set(kinds()) == {"agent", "sb3", "autoencoder", "classifier", "forecaster"}
    assert set(schemas()) == {"reinforce", "a2c", "ppo", "sb3_ppo", "sb3_a2c", "sb3_recurrent_ppo", "sb3_sac",
                              "stacked_ae", "denoising_ae",
                              "vae", "classifier", "forecaster"}
    registry_source = (CORE / "registry.py").read_text()
    for name in kinds():
        assert f'"{name}"' not in registry_source  # the core names no kind


@pytest.mark.parametrize("literal", [784, 28])
def test_image_size_is_written_only_in_the_data_module(literal):
    allowed = {CORE / "idx_data.py"}
    places = []
    for package in ("rlgen", "agents", "envs"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in allowed:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and type(node.value) is int and node.value == literal:
                    places.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert places == []
