"""Pictures in TensorBoard: an autoencoder's reconstructions and samples every epoch, an agent's episode as a GIF at
the end, none when train.tensorboard_images is false."""

import imageio.v3 as iio
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import rlgen
from tests.conftest import CONFIGS

TINY = {"device": "cpu", "data.limit": 600, "data.validation": 100, "train.epochs": 2}


def images(run_dir):
    events = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0})
    events.Reload()
    return {tag: events.Images(tag) for tag in events.Tags()["images"]}


def test_an_autoencoder_shows_reconstructions_and_samples_every_epoch(tmp_path):
    rlgen.train(CONFIGS / "fashion_cvae.yaml", TINY, run_dir=tmp_path / "vae", quiet=True)
    shown = images(tmp_path / "vae")
    assert set(shown) == {"reconstructions", "samples"} and [e.step for e in shown["samples"]] == [1, 2]
    grid = iio.imread(shown["reconstructions"][0].encoded_image_string)
    assert grid.shape[:2] == ((2 * 30 + 2) * 2, (8 * 30 + 2) * 2)  # 8 validation images over their reconstructions
    rlgen.train(CONFIGS / "fashion_denoising_ae.yaml", TINY, run_dir=tmp_path / "dae", quiet=True)
    (first, *_), = images(tmp_path / "dae").values()  # clean, corrupted, denoised rows
    assert iio.imread(first.encoded_image_string).shape[0] == (3 * 30 + 2) * 2
    rlgen.train(CONFIGS / "fashion_vae.yaml", {**TINY, "train.tensorboard_images": False}, run_dir=tmp_path / "off",
                quiet=True)
    assert images(tmp_path / "off") == {}


def test_an_agent_shows_one_greedy_episode_as_a_gif(tmp_path, tiny_agent_overrides):
    rlgen.train(CONFIGS / "cartpole_ppo.yaml", tiny_agent_overrides + ["device=cpu"], run_dir=tmp_path / "ppo",
                quiet=True)
    (episode,) = images(tmp_path / "ppo")["episode"]
    frames = iio.imread(episode.encoded_image_string, index=None)
    assert frames.shape[1:] == (200, 300, 3) and len(frames) > 5 and (episode.height, episode.width) == (200, 300)
    rlgen.train(CONFIGS / "cartpole_ppo.yaml", tiny_agent_overrides + ["device=cpu", "train.tensorboard_images=false"],
                run_dir=tmp_path / "off", quiet=True)
    assert images(tmp_path / "off") == {}
