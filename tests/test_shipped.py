"""Configs by name: the shipped configs are found from any folder, listed and shown; a local file comes first; a
name that is neither is one line naming the closest; pyproject installs every package folder under rlgen."""

import tomllib

import pytest

import rlgen
from rlgen.errors import ConfigError
from rlgen.shipped import find_config, shipped, shipped_dir
from tests.conftest import CONFIGS, ROOT
from tests.test_cli import assert_one_line_error, invoke


def test_every_yaml_in_configs_is_shipped_with_a_description():
    assert shipped_dir().resolve() == CONFIGS.resolve()
    names = {item.name for item in shipped()}
    expected = {p.stem for p in CONFIGS.glob("*.yaml")} | {f"sweeps/{p.stem}" for p in CONFIGS.glob("sweeps/*.yaml")}
    assert names == expected and len(names) > 30
    descriptions = rlgen.shipped_configs()
    assert set(descriptions) == names and all(len(d) > 10 for d in descriptions.values())
    assert descriptions["cartpole_ppo"].startswith("PPO on CartPole-v1")


@pytest.mark.parametrize("text", ["cartpole_ppo", "cartpole_ppo.yaml"])
def test_a_bare_name_is_the_shipped_config_from_any_folder(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_config(text) == CONFIGS / "cartpole_ppo.yaml"


def test_studies_are_found_by_name_and_only_as_studies():
    assert find_config("fashion_optimizers", "sweep") == CONFIGS / "sweeps" / "fashion_optimizers.yaml"
    assert find_config("sweeps/tune_cartpole_ppo.yaml", "search space") == CONFIGS / "sweeps" / "tune_cartpole_ppo.yaml"
    with pytest.raises(ConfigError):
        find_config("fashion_optimizers")  # a sweep is not a config to train
    with pytest.raises(ConfigError):
        find_config("cartpole_ppo", "sweep")


def test_a_local_file_comes_before_a_shipped_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cartpole_ppo.yaml").write_text("algo: ppo\n")
    assert find_config("cartpole_ppo.yaml") == tmp_path.joinpath("cartpole_ppo.yaml").relative_to(tmp_path)


@pytest.mark.parametrize("text, needles", [
    ("cartpol_ppo", ["closest shipped names", "cartpole_ppo"]),
    ("configs/fashion_vae.yaml", ["does not exist", "give just fashion_vae"]),
    ("zzzz", ["neither a file nor a shipped name", "rlgen configs"]),
])
def test_an_unknown_name_is_one_line_naming_the_closest(text, needles, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke("train", text, "--check"), 2, text, *needles)
    assert not (tmp_path / "runs").exists()


def test_train_check_and_summary_take_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("train", "cartpole_reinforce", "--check")
    assert result.exit_code == 0 and "a valid reinforce config" in result.output, result.output
    result = invoke("summary", "fashion_mlp")
    assert result.exit_code == 0 and "118,282" in result.output, result.output
    result = invoke("train", "fashion_mlp", "--check", "--device", "cpu")  # what it would train, and where
    assert result.exit_code == 0 and "118,282 parameters, would train on cpu" in result.output, result.output


def test_the_api_trains_a_shipped_name(tmp_path):
    run = rlgen.train("cartpole_reinforce", {"train.total_steps": 300, "train.eval_episodes": 2,
                                             "train.target_return": None, "env.num_envs": 4},
                      run_dir=tmp_path / "run", quiet=True, device="cpu")
    assert run.meta.config_source == "cartpole_reinforce"
    assert run.result.progress >= 300


def test_configs_lists_and_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("configs")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "kind", "description"]
    rows = {line.split()[0]: line for line in lines[1:] if line.strip() and not line.startswith(" ")}
    assert "ppo" in rows["cartpole_ppo"].split() and "search space" in rows["sweeps/tune_cartpole_ppo"]
    assert "sweep" in rows["sweeps/fashion_optimizers"].split()
    for name in ("fashion_vae", "sweeps/fashion_momentum", "tune_fashion_vae"):
        shown = invoke("configs", "show", name)
        assert shown.exit_code == 0, shown.output
        path = CONFIGS / (name if name.startswith("sweeps/") else name if name in rows else f"sweeps/{name}")
        assert shown.output == path.with_suffix(".yaml").read_text()
    assert_one_line_error(invoke("configs", "show", "fashion_vea"), 2, "fashion_vae")


def test_pyproject_installs_every_package_folder_under_rlgen():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"rlgen": ROOT / "rlgen", **{f"rlgen.{k.split('.')[1]}": ROOT / v
                                            for k, v in tool["package-dir"].items() if k != "rlgen"}}
    found = set()
    for package, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            found.add(".".join((package, *parts)))
    assert found == set(tool["packages"])
    assert set(tool["package-data"]) == {"rlgen.configs", "rlgen.configs.sweeps"}


def test_the_config_reference_names_every_field_of_every_schema():
    from pydantic import BaseModel

    from rlgen.registry import schemas
    from rlgen.schema_docs import _models_in, config_reference

    text = config_reference()
    top = set(schemas().values())
    todo = list(top)
    seen: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        assert model in top or f"### {model.__name__}" in text
        for name, field in model.model_fields.items():
            if model in top and name == "algo":  # the heading of its section: ### `algo: ppo`
                continue
            assert f"| `{name}` |" in text, f"{model.__name__}.{name}"
            todo += _models_in(field.annotation)
    assert "| `clip_range` | float | `0.2` | ε of the clipped surrogate" in text
