"""Metrics with namespaced keys (`rollout/ep_return_mean`, `train/loss`, `time/steps_per_s`) to CSV and TensorBoard,
and the progress bar shown while training."""

from __future__ import annotations

import csv
import io
import math
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rlgen.atomic import atomic_write_text
from rlgen.errors import RlgenError

if TYPE_CHECKING:
    import torch


Listener = Callable[[int, Mapping[str, float]], None]
_LISTENERS: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call `listener(step, metrics)` with every metrics row any run in this process logs while the block runs (a
    tuner prunes a trial by its evaluations; a notebook can draw them live). An exception it raises stops the run."""
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)


class MetricsLogger:
    """Appends one row per `log` call to metrics.csv (the header grows when new keys appear) and TensorBoard."""

    def __init__(self, run_path: Path, tensorboard: bool = True, keep_until_step: int | None = None):
        """`keep_until_step`: continue an existing metrics.csv (a resumed run), dropping rows after that step."""
        self.csv_path = Path(run_path) / "metrics.csv"
        self.columns: list[str] = ["step"]
        self.rows: list[dict[str, float]] = []
        if keep_until_step is not None and self.csv_path.exists():
            rows = read_metrics(self.csv_path)
            self.columns = list(dict.fromkeys(k for row in [{"step": 0.0}, *rows] for k in row))
            self.rows = [{**row, "step": int(row["step"])} for row in rows if row["step"] <= keep_until_step]
            self._rewrite()
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # imported lazily: tensorboard is slow to import

            self.writer = SummaryWriter(log_dir=str(Path(run_path) / "tb"))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        new = [k for k in row if k not in self.columns]
        self.rows.append(row)
        if new or not self.csv_path.exists():
            self.columns += new
            self._rewrite()
        else:
            with self.csv_path.open("a", newline="") as f:
                csv.DictWriter(f, self.columns).writerow(row)
        if self.writer is not None:
            for key, value in metrics.items():
                if not math.isnan(float(value)):
                    self.writer.add_scalar(key, float(value), step)
        for listener in list(_LISTENERS):
            listener(step, metrics)

    def log_images(self, step: int, pictures: Mapping[str, list[torch.Tensor]]) -> None:
        """Image grids in TensorBoard's Images tab: each name's rows of (n, C, H, W) images in [0, 1], drawn as
        rlgen's PNG grids are (dark on light)."""
        if self.writer is None:
            return
        from rlgen.images import image_grid

        for name, rows in pictures.items():
            self.writer.add_image(name, image_grid(rows)[None], step, dataformats="CHW")

    def log_gif(self, step: int, name: str, gif: bytes, height: int, width: int) -> None:
        """An animated GIF (an episode) in TensorBoard's Images tab, which shows it playing."""
        if self.writer is None:
            return
        from tensorboard.compat.proto.summary_pb2 import Summary

        image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=gif)
        self.writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=name, image=image)]), step)

    def _rewrite(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, self.columns)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.csv_path, buffer.getvalue())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


_last_read: tuple[tuple, list[dict[str, float]]] | None = None  # the last table read, by file identity


def read_metrics(path: Path) -> list[dict[str, float]]:
    """Rows of a metrics.csv with empty cells left out; a file that is not such a table is one clear error.

    The last table read is kept: opening a finished run reads its table once for the final row and once more for
    the hint, and a long run's table takes a while to parse. A copy is returned; a changed file is read again."""
    global _last_read
    path = Path(path)
    try:
        stat = path.stat()
        identity = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, stat.st_ino)
    except OSError:
        identity = None
    if identity is not None and _last_read is not None and _last_read[0] == identity:
        return [dict(row) for row in _last_read[1]]
    rows = _parse_metrics(path)
    if identity is not None:
        _last_read = (identity, [dict(row) for row in rows])
    return rows


def _parse_metrics(path: Path) -> list[dict[str, float]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or reader.fieldnames[0] != "step":
                raise ValueError("no step column")
            rows = [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error, ValueError, TypeError):
        raise RlgenError(f"{path} is damaged (not rlgen's metrics table)") from None
    if any("step" not in row for row in rows):
        raise RlgenError(f"{path} is damaged (a row without its step)")
    return rows


class ProgressBar:
    """A rich progress bar over a budget (steps or epochs) with a free-text status; `quiet` shows nothing."""

    def __init__(self, total: float, description: str, quiet: bool = False):
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=quiet,
        )
        self._task = self._progress.add_task(description, total=total, status="")

    def __enter__(self) -> "ProgressBar":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def update(self, completed: float, status: str) -> None:
        self._progress.update(self._task, completed=completed, status=status)
