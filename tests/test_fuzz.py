"""Fuzzing: generated configs, `--set` strings and command options must each end either in success or in one clear
line with exit code 1 or 2, never a traceback; values that make no sense are always refused. The cases a fuzzer
found against rlgen 0.1 are kept as a regression corpus. Hypothesis generates 560 cases per run."""

import os
import typing
from pathlib import Path

import annotated_types
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from rlgen.cli import main
from rlgen.config import load_config
from rlgen.registry import schemas
from tests.conftest import CONFIGS

CONFIG_FILES = sorted(CONFIGS.glob("*.yaml"))
SCALE = int(os.environ.get("RLGEN_FUZZ_SCALE", "1"))  # RLGEN_FUZZ_SCALE=20 RLGEN_FUZZ_RANDOM=1: a longer hunt


def fuzz(examples: int) -> settings:
    """Hypothesis settings for these tests: no deadline (the machine is shared), derandomized so that CI runs the
    same cases every time (set RLGEN_FUZZ_RANDOM=1 to explore new ones), no example database in the checkout."""
    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    derandomize=os.environ.get("RLGEN_FUZZ_RANDOM") != "1",
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_clean(result, refused: bool = False):
    """Success, or exactly one line `rlgen: error: …` with exit 1 or 2; never an uncaught exception."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        raise AssertionError("".join(traceback.format_exception(result.exception)))
    assert result.exit_code in ((1, 2) if refused else (0, 1, 2)), (result.exit_code, result.output)
    if result.exit_code:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rlgen: error:"), result.stderr


def check(config: Path, *sets: str):
    return invoke("train", config, "--check", "--device", "cpu", *[a for s in sets for a in ("--set", s)])


# -- the numeric fields of every schema, with their bounds ----------------------------------------------------------
def numeric_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, type, list]]:
    found = []
    for name, field in model.model_fields.items():
        annotation, path = field.annotation, f"{prefix}{name}"
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = args[0] if typing.get_origin(annotation) in (typing.Union, __import__("types").UnionType) and len(args) == 1 else annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found += numeric_fields(inner, path + ".")
        elif inner in (int, float) and name not in ("algo",):
            found.append((path, inner, field.metadata))
    return found


CASES = [(path, field) for path in CONFIG_FILES
         for field in numeric_fields(schemas()[load_config(path, [], schemas()).algo])]


def nonsense(kind: type, metadata: list) -> st.SearchStrategy[str]:
    """YAML values that no field of this kind and these bounds may take."""
    bad = [".inf", "-.inf", ".nan", "true", "false", "'twelve'", "[1]", "{a: 1}", "1" + "0" * 5000]
    for bound in metadata:
        if isinstance(bound, annotated_types.Ge):
            bad.append(repr(bound.ge - 1) if kind is int else repr(bound.ge - abs(bound.ge) * 0.5 - 1e-3))
        if isinstance(bound, annotated_types.Gt):
            bad.append(repr(bound.gt))
        if isinstance(bound, annotated_types.Le):
            bad.append(repr(bound.le * 10 + 1))
        if isinstance(bound, annotated_types.Lt):
            bad.append(repr(bound.lt))
    if kind is int:
        bad.append("0.5")
    return st.sampled_from(bad)


@fuzz(260)
@given(st.data())
def test_nonsense_in_any_numeric_field_is_refused(data):
    config, (path, kind, metadata) = data.draw(st.sampled_from(CASES))
    value = data.draw(nonsense(kind, metadata))
    assert_clean(check(config, f"{path}={value}"), refused=True)


YAML_SCALARS = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                         st.sampled_from(["null", "true", "~", ".nan", "-.inf", "'x'", "auto", "cuda:7", "tpu",
                                          "relu", "conv", "[]", "{}", "&a 1", "*a", "!!python/object:os.system",
                                          "[" * 300, "]"]),
                         st.text(max_size=12))
YAML_VALUES = st.recursive(YAML_SCALARS.map(str), lambda inner: st.one_of(
    st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.dictionaries(st.sampled_from(["type", "units", "channels", "kernel", "hidden", "lr", "x", "layers",
                                     "dilation", "return_sequences", "bidirectional"]), inner,
                    max_size=3).map(lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}")),
    max_leaves=8)
KEYS = st.one_of(st.sampled_from(sorted({p for _, (p, _, _) in CASES} | {
    "algo", "device", "model.layers", "model.hidden", "policy.hidden", "value.hidden", "env.id", "env.kwargs",
    "env.backend", "optimizer.name", "optimizer.schedule", "optimizer.betas", "pretrained", "data.dir",
    "policy.activation", "model.activation", "train.rollout", "train.precision", "sb3.net_arch",
    "policy.recurrent", "value.recurrent", "policy.recurrent.type", "env.observe", "model.baseline",
    "model.layers[0].return_sequences", "model.layers[0].peephole", "model.layers[0].type",
    "normalize_observations", "observation_clip"})),
    st.text(min_size=0, max_size=20))


@fuzz(150)
@given(config=st.sampled_from(CONFIG_FILES), key=KEYS, value=YAML_VALUES)
def test_any_set_string_is_success_or_one_line(config, key, value):
    assert_clean(check(config, f"{key}={value}"))


COMMANDS = {  # command: (int options, other options)
    "evaluate": ["--episodes", "--seed", "--nll-samples"],
    "render": ["--episodes", "--seed", "--fps"],
    "sample": ["--n", "--seed"],
    "reconstruct": ["--n", "--seed"],
    "interpolate": ["--steps", "--pairs", "--seed"],
}
def _not_an_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return True
    return False


BAD_OPTION_VALUES = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32),
                              st.text(max_size=8).filter(_not_an_int),
                              st.sampled_from(["1e3", "0x10", "nan", "", "--", "1.5", "9" * 5000]))


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("fuzz") / "vae"
    result = invoke("train", CONFIGS / "fashion_vae.yaml", "--run-dir", run, "--quiet", "--device", "cpu",
                    *[a for s in ("data.limit=300", "data.validation=50", "train.epochs=1", "vae.nll_samples=2")
                      for a in ("--set", s)])
    assert result.exit_code == 0, result.output
    return run


@fuzz(150)
@given(data=st.data())
def test_bad_command_options_are_one_line(data, vae_run):
    command = data.draw(st.sampled_from(sorted(COMMANDS)))
    option = data.draw(st.sampled_from(COMMANDS[command]))
    value = data.draw(BAD_OPTION_VALUES)
    out = ["--out", str(vae_run.parent / ("x.gif" if command == "render" else "x.png"))]
    result = invoke(command, vae_run, option, value, *(out if command != "evaluate" else []))
    ok_values = {"--episodes": range(1, 10**6 + 1), "--seed": range(0, 2**32), "--nll-samples": range(1, 10**6 + 1),
                 "--fps": range(1, 241), "--n": range(1, 4097 if command == "sample" else 101),
                 "--steps": range(2, 101), "--pairs": range(1, 51)}
    assert not (isinstance(value, int) and value in ok_values[option])  # the strategy only draws bad values
    assert_clean(result, refused=True)


# -- what a fuzzer found against rlgen 0.1 --------------------------------------------------------------------------
REGRESSIONS = [
    ("cartpole_reinforce", ["policy.hidden=[-3]"]),
    ("fashion_vae", ["model.hidden=[0]"]),
    ("fashion_vae", ["model.hidden=[100000, 100000]"]),
    ("fashion_vae", ["model.latent=1000000000"]),
    ("fashion_vae", ["algo=[vae]"]),
    ("cartpole_a2c", ["seed=99999999999999999999"]),
    ("cartpole_a2c", ["train.eval_seed_offset=-99999999999"]),
    ("cartpole_a2c", ["env.kwargs={a: " + "[" * 5000 + "]" * 5000 + "}"]),
    ("cartpole_a2c", ["seed=" + "7" * 5000]),
    ("cartpole_reinforce", ["optimizer.lr=.inf"]),
    ("cartpole_reinforce", ["optimizer.lr=1e308"]),
    ("cartpole_reinforce", ["optimizer.lr=true"]),
    ("cartpole_reinforce", ["optimizer.eps=.inf"]),
    ("cartpole_reinforce", ["optimizer.weight_decay=.inf"]),
    ("cartpole_reinforce", ["optimizer.decay=.inf"]),
    ("cartpole_reinforce", ["optimizer.decay=1e300"]),
    ("cartpole_reinforce", ["optimizer.lr_final=.inf"]),
    ("cartpole_reinforce", ["optimizer.l1=.inf"]),
    ("cartpole_reinforce", ["optimizer.l2=.inf"]),
    ("cartpole_reinforce", ["policy.gain=.inf"]),
    ("cartpole_reinforce", ["train.target_return=.nan"]),
    ("cartpole_reinforce", ["env.kwargs={foo: 1}"]),
    ("cartpole_reinforce", ["env.backend=gymnasium", "env.kwargs={foo: 1}"]),
    ("cartpole_reinforce", ["env.kwargs={max_episode_steps: -1}"]),
    ("fashion_vae", ["data.dir=/no/such/folder"]),
    ("cartpole_reinforce", ["env.id=NoSuchEnv-v0"]),
    # recurrent layers and policies (issue 18)
    ("fashion_lstm", ["model.layers=[{type: lstm, units: 8}]"]),  # an image with no sequence step
    ("fashion_lstm", ["model.layers=[{type: sequence}, {type: lstm, units: 0}]"]),
    ("fashion_lstm", ["model.layers=[{type: sequence}, {type: gru, units: 8, layers: 0}]"]),
    ("series_lstm", ["data.steps=0"]),
    ("series_rnn", ["model.layers=[{type: rnn, units: 4, dropout: 1.5}]"]),
    ("cartpole_masked_ppo", ["policy.recurrent.units=0"]),
    ("cartpole_masked_ppo", ["ppo.minibatches=1000"]),  # more minibatches than env copies (whole sequences)
    ("cartpole_masked_ppo", ["env.observe=[0, 7]"]),
    ("cartpole_masked_ppo", ["env.observe=[]"]),
    ("cartpole_masked_ppo", ["env.observe=[1, 1]"]),
]


@pytest.mark.parametrize("config, sets", REGRESSIONS, ids=lambda x: x if isinstance(x, str) else " ".join(x)[:40])
def test_regression_corpus_is_refused(config, sets):
    result = check(CONFIGS / f"{config}.yaml", *sets)
    if "data.dir=/no/such/folder" in sets:  # refused by --check, and by train: never a fall back to another folder
        assert_clean(result, refused=True)
        result = invoke("train", CONFIGS / f"{config}.yaml", "--set", sets[0], "--run-dir", "/tmp/never-made")
        assert not Path("/tmp/never-made").exists()
    assert_clean(result, refused=True)


def test_a_config_file_nested_deep_or_with_duplicates_or_aliases_is_refused(tmp_path):
    cases = {"deep.yaml": "algo: vae\nmodel:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(3000))[:900_000],
             "dup.yaml": "algo: vae\nseed: 1\nseed: 2\n",
             "alias.yaml": "algo: vae\nmodel: &m {latent: 2}\ndata: *m\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert_clean(check(tmp_path / name), refused=True)
