"""Watching a trained agent: frames from gymnasium's `rgb_array` renderer into a GIF or MP4, or a live window."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rlgen.agents.evaluate import Actor, start_episodes
from rlgen.envs.make import EnvConfig, make_env
from rlgen.atomic import atomic_output
from rlgen.errors import RlgenError

VIDEO_SUFFIXES = (".gif", ".mp4")


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def play(act: Actor, env_cfg: EnvConfig, episodes: int, seed: int, render_mode: str,
         max_steps: int | None = None) -> tuple[list[np.ndarray], list[float]]:
    """Play greedy episodes (episode k from seed + k) on gymnasium's env of the run's id and keyword arguments;
    returns the frames (rgb_array mode) and the returns. `max_steps`: cut each episode after that many steps."""
    if render_mode == "rgb_array" and not has_display():
        os.environ.setdefault("MUJOCO_GL", "egl")  # MuJoCo's default (GLFW) needs a window; EGL draws offscreen
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame's drawing (CartPole) needs no window either
    env = make_env(env_cfg.id, render_mode=render_mode, observe=env_cfg.observe, **env_cfg.kwargs)
    frames: list[np.ndarray] = []
    returns: list[float] = []
    try:
        for k in range(episodes):
            obs, _ = env.reset(seed=seed + k)
            start_episodes(act, 1)
            total, done, steps = 0.0, False, 0
            if render_mode == "rgb_array":
                frames.append(_frame(env, env_cfg.id))
            while not done and (max_steps is None or steps < max_steps):
                steps += 1
                action = act(obs[None])[0]
                obs, reward, terminated, truncated, _ = env.step(int(action) if np.ndim(action) == 0 else action)
                total += float(reward)
                done = terminated or truncated
                if render_mode == "rgb_array":
                    frames.append(_frame(env, env_cfg.id))
            returns.append(total)
    finally:
        env.close()
    return frames, returns


def _frame(env, env_id: str) -> np.ndarray:
    try:
        return env.render()
    except Exception as exc:  # mujoco.FatalError without a GL context; AttributeError where PyOpenGL finds no library
        if "mujoco" not in type(env.unwrapped).__module__:
            raise
        raise RlgenError(f"cannot draw {env_id} (MUJOCO_GL={os.environ.get('MUJOCO_GL')}): {exc}; try MUJOCO_GL=egl "
                         "or MUJOCO_GL=osmesa (needs that OpenGL library on the machine)") from None


def write_video(frames: list[np.ndarray], out: Path, fps: int) -> None:
    with atomic_output(out) as tmp:
        if out.suffix.lower() == ".gif":
            _write_gif(frames, tmp, fps)
        else:  # ffmpeg wants sizes divisible by the macro block; CartPole's 600x400 is divisible by 8
            import imageio.v2 as imageio

            imageio.mimwrite(tmp, frames, format="FFMPEG", fps=fps, macro_block_size=8)


def _write_gif(frames: list[np.ndarray], path: Path, fps: int) -> None:
    path.write_bytes(gif_bytes(frames, fps))


def gif_bytes(frames: list[np.ndarray], fps: int) -> bytes:
    """An animated GIF of the frames, with one palette for all of them, taken from the first: ~10x faster than
    Pillow's default of a new adaptive palette per frame, and a rendered scene keeps its few colours from frame to
    frame."""
    import imageio.v3 as iio
    from PIL import Image

    colors = 64
    palette = Image.fromarray(frames[0]).quantize(colors=colors, method=Image.Quantize.FASTOCTREE)
    indices = np.stack(  # (T, H, W) palette indices
        [np.asarray(Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE)) for f in frames]
    )
    rgb = bytes(palette.getpalette()[: 3 * colors])
    return iio.imwrite("<bytes>", indices, extension=".gif", mode="P", is_batch=True, palette=rgb,
                       duration=1000 / fps, loop=0)


def episode_gif(act: Actor, env_cfg: EnvConfig, seed: int, fps: int = 25, max_frames: int = 200,
                shrink: int = 2) -> tuple[bytes, int, int]:
    """One greedy episode as a small GIF (every `shrink`-th pixel, its first `max_frames` frames: ~0.4 s to play
    and draw on CartPole) for TensorBoard: (GIF bytes, height, width)."""
    frames, _ = play(act, env_cfg, 1, seed, "rgb_array", max_steps=max_frames - 1)
    frames = [np.ascontiguousarray(f[::shrink, ::shrink]) for f in frames]
    return gif_bytes(frames, fps), frames[0].shape[0], frames[0].shape[1]


def check_render_request(out: Path | None, human: bool) -> None:
    """Fail before any work when there is nowhere to show the episodes."""
    if out is None and not human:
        raise RlgenError("give --out FILE.gif|FILE.mp4, or --human to watch in a window")
    if human and not has_display():
        raise RlgenError("--human needs a display (DISPLAY or WAYLAND_DISPLAY is not set); use --out FILE.gif")


def render_actor(act: Actor, env_cfg: EnvConfig, out: Path | None, episodes: int, seed: int, fps: int,
                 human: bool) -> tuple[int, list[float]]:
    """Play an actor into a GIF/MP4 (`out`) and/or a window (`human`); returns (frames written, returns). The caller
    has checked the request (`check_render_request`) and `out`."""
    if human:
        _, returns = play(act, env_cfg, episodes, seed, "human")
        if out is None:
            return 0, returns
    frames, returns = play(act, env_cfg, episodes, seed, "rgb_array")
    write_video(frames, out, fps)
    return len(frames), returns
