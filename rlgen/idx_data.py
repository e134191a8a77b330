"""Image data sets in the IDX format: Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017), MNIST (LeCun et al., 1998), or
a user's own four files. Finding, checking, downloading and loading them.

An explicit `data_dir` is the only place looked in: it holds the four files or is refused. Otherwise the search
order is `$RLGEN_DATA_DIR`, the user cache `~/.cache/rlgen/<set>`, then the Debian package's folder
(/usr/share/datasets/fashion-mnist from `dataset-fashion-mnist`); if none holds the files, they are downloaded into
the cache. A file is accepted when its gzip bytes have the official md5, or when its decompressed bytes do (Debian
re-compresses the files); it is also checked for its IDX magic number and size. `verify=False` skips the md5 and
count checks (a user's own IDX files), never the format's.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rlgen.checkpoint import atomic_write_bytes
from rlgen.errors import RlgenError
from rlgen.idx_format import file_bytes, gunzip_bounded, parse_idx

IMAGE_SHAPE = (1, 28, 28)  # (channels, height, width): the one place the images' size is written
NUM_CLASSES = 10


@dataclass(frozen=True)
class IdxFile:
    name: str  # file name without .gz
    magic: int  # 2051 for images (idx3), 2049 for labels (idx1)
    count: int
    gz_md5: str  # Zalando's files
    raw_md5: str  # the decompressed bytes (what Debian's re-compressed files hold)


@dataclass(frozen=True)
class IdxSet:
    """A named data set of four IDX files (60,000 training and 10,000 test images of 28 × 28 grey levels)."""

    name: str  # as `data.name` spells it
    title: str
    folder: str  # the cache's subfolder, and the Debian package's under /usr/share/datasets
    files: dict[str, IdxFile]
    class_names: tuple[str, ...]
    url: str  # where `rlgen data fetch` downloads from ($RLGEN_<NAME>_URL overrides it)
    debian_package: str | None = None

    @property
    def system_dir(self) -> Path:
        return Path("/usr/share/datasets") / self.folder

    @property
    def how_to_get(self) -> str:
        apt = f" or `apt-get install {self.debian_package}`" if self.debian_package else ""
        return f"get it with `rlgen data fetch{_name_flag(self)}`{apt}"

    @property
    def download_url(self) -> str:
        return os.environ.get(f"RLGEN_{self.name.upper()}_URL", self.url)


def _name_flag(data_set: IdxSet) -> str:
    return "" if data_set.name == "fashion_mnist" else f" --name {data_set.name}"


def _files(gz_md5: tuple[str, ...], raw_md5: tuple[str, ...]) -> dict[str, IdxFile]:
    layout = (("train_images", "train-images-idx3-ubyte", 2051, 60000),
              ("train_labels", "train-labels-idx1-ubyte", 2049, 60000),
              ("test_images", "t10k-images-idx3-ubyte", 2051, 10000),
              ("test_labels", "t10k-labels-idx1-ubyte", 2049, 10000))
    return {key: IdxFile(name, magic, count, gz, raw)
            for (key, name, magic, count), gz, raw in zip(layout, gz_md5, raw_md5)}


FASHION_MNIST = IdxSet(
    "fashion_mnist", "Fashion-MNIST", "fashion-mnist",
    _files(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe", "bef4ecab320f06d8554ea6380940ec79",
            "bb300cfdad3c16e7a12a480ee83cd310"),
           ("f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9", "8181f5470baa50b63fa0f6fddb340f0a",
            "15d484375f8d13e6eb1aabb0c3f46965")),
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", "dataset-fashion-mnist")
# MNIST: the gzip md5s are those of the files LeCun's page served; the decompressed ones were computed from a copy whose
# label counts (5,923 zeros … 5,949 nines) and pixel mean and std (0.1307, 0.3081) are MNIST's published figures
MNIST = IdxSet(
    "mnist", "MNIST", "mnist",
    _files(("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432", "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c"),
           ("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624", "2646ac647ad5339dbf082846283269ea",
            "27ae3e4e09519cfbb04c329615203637")),
    tuple(str(digit) for digit in range(10)),
    "https://ossci-datasets.s3.amazonaws.com/mnist/")
DATA_SETS = {s.name: s for s in (FASHION_MNIST, MNIST)}
CLASS_NAMES = FASHION_MNIST.class_names  # the default data set's


def _file_in(directory: Path, spec: IdxFile) -> Path | None:
    for candidate in (directory / f"{spec.name}.gz", directory / spec.name):
        if candidate.is_file():
            return candidate
    return None


def cache_dir(data_set: IdxSet = FASHION_MNIST) -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rlgen" / data_set.folder


def candidate_dirs(data_dir: Path | None = None, data_set: IdxSet = FASHION_MNIST) -> list[Path]:
    """Where the files are looked for: an explicit folder alone, or else the usual places in order. $RLGEN_DATA_DIR
    names Fashion-MNIST's folder; for another set it names a parent holding a folder per set (…/mnist)."""
    if data_dir is not None:
        return [Path(data_dir)]
    dirs = []
    if os.environ.get("RLGEN_DATA_DIR"):
        root = Path(os.environ["RLGEN_DATA_DIR"])
        dirs.append(root if data_set is FASHION_MNIST else root / data_set.folder)
    return dirs + [cache_dir(data_set), data_set.system_dir]


def _load_checked(path: Path, spec: IdxFile, data_set: IdxSet, verify: bool) -> np.ndarray:
    stored, raw = file_bytes(path)
    array = parse_idx(raw, path, spec.magic)  # magic and size first: they give the more useful message
    if not verify:
        return array
    if hashlib.md5(stored).hexdigest() != spec.gz_md5 and hashlib.md5(raw).hexdigest() != spec.raw_md5:
        raise RlgenError(f"{path} has the wrong checksum (damaged or not {data_set.title}); {data_set.how_to_get}, "
                         f"or set data.verify: false to train on IDX files of your own")
    if array.shape[0] != spec.count:
        raise RlgenError(f"{path} holds {array.shape[0]} items, expected {spec.count}; {data_set.how_to_get}")
    return array


def locate(data_dir: Path | None = None, data_set: IdxSet = FASHION_MNIST) -> Path | None:
    """The first candidate folder that holds all four files (checked when loaded), or None. An explicit `data_dir` is
    the only candidate: one that does not exist or lacks some of the files is an error, never a reason to look
    elsewhere."""
    if data_dir is not None:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise RlgenError(f"data folder {data_dir} does not exist; name a folder with the four {data_set.title} "
                             f"files, or leave data.dir unset to search for them")
        missing = [spec.name for spec in data_set.files.values() if not _file_in(folder, spec)]
        if missing:
            what = "none of the four" if len(missing) == len(data_set.files) else f"{len(missing)} of the four"
            raise RlgenError(f"{data_dir} holds {what} {data_set.title} files (lacks {', '.join(missing)}, plain or "
                             f".gz); put them there, `rlgen data fetch{_name_flag(data_set)} --data-dir {data_dir}` "
                             f"downloads them, or leave "
                             f"data.dir unset to search for them")
        return folder
    for directory in candidate_dirs(None, data_set):
        if all(_file_in(directory, spec) for spec in data_set.files.values()):
            return directory
    return None


def download(target: Path, base_url: str | None = None, quiet: bool = False,
             data_set: IdxSet = FASHION_MNIST) -> Path:
    """Download the four official files into `target`, checking each md5 before it is put in place."""
    base_url = base_url or data_set.download_url
    target.mkdir(parents=True, exist_ok=True)
    for spec in data_set.files.values():
        path = target / f"{spec.name}.gz"
        if path.is_file() and hashlib.md5(path.read_bytes()).hexdigest() in (spec.gz_md5,):
            continue
        url = base_url.rstrip("/") + f"/{spec.name}.gz"
        if not quiet:
            print(f"downloading {url}")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
        except (urllib.error.URLError, OSError) as exc:
            apt = f"install {data_set.debian_package} or " if data_set.debian_package else ""
            raise RlgenError(f"cannot download {url} ({getattr(exc, 'reason', exc)}); {apt}put the four files in "
                             f"{target}") from None
        digest = hashlib.md5(data).hexdigest()
        if digest != spec.gz_md5:
            try:
                ok = hashlib.md5(gunzip_bounded(data, Path(url))).hexdigest() == spec.raw_md5
            except RlgenError:
                ok = False
            if not ok:
                raise RlgenError(f"downloaded {url} has the wrong checksum {digest}; nothing was saved")
        atomic_write_bytes(path, data)
    return target


def fetch(data_dir: Path | None = None, quiet: bool = False, data_set: IdxSet = FASHION_MNIST) -> Path:
    """Where the data is, downloading it into the cache (or into `data_dir`, when it holds none of the files) when no
    candidate folder has it."""
    if data_dir is not None and (not Path(data_dir).exists() or Path(data_dir).is_dir() and not any(
            _file_in(Path(data_dir), spec) for spec in data_set.files.values())):
        return download(Path(data_dir), quiet=quiet, data_set=data_set)
    found = locate(data_dir, data_set)
    if found is not None:
        return found
    return download(cache_dir(data_set), quiet=quiet, data_set=data_set)


@dataclass
class ImageSet:
    """Each split as one uint8 tensor of images (N, 1, 28, 28) and one int64 tensor of labels (N,)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: Path


def load_image_set(
    data_dir: Path | None = None,
    validation: int | None = 5000,
    device: torch.device | str = "cpu",
    download_if_missing: bool = True,
    limit: int | None = None,
    data_set: IdxSet = FASHION_MNIST,
    verify: bool = True,
) -> ImageSet:
    """Load and check all four files; the last `validation` training images are held out as the validation split
    (None: 1/12 of them, `default_validation`).

    `limit` keeps only the first `limit` training images (before the split) and test images, for quick runs. An
    explicit `data_dir` is used or refused (see `locate`), never replaced by another copy or a download.
    """
    if data_dir is not None or not download_if_missing:
        directory = locate(data_dir, data_set)
    else:
        directory = fetch(None, data_set=data_set)
    if directory is None:
        raise RlgenError(f"{data_set.title} not found in {', '.join(map(str, candidate_dirs(data_dir, data_set)))}; "
                         f"{data_set.how_to_get}")
    arrays = {key: _load_checked(_file_in(directory, spec) or directory / spec.name, spec, data_set, verify)
              for key, spec in data_set.files.items()}
    for key in ("train", "test"):
        check_pair(arrays[f"{key}_images"], arrays[f"{key}_labels"], directory, key)
    train_x = torch.from_numpy(arrays["train_images"].reshape(-1, *IMAGE_SHAPE).copy())
    train_y = torch.from_numpy(arrays["train_labels"].astype(np.int64))
    test_x = torch.from_numpy(arrays["test_images"].reshape(-1, *IMAGE_SHAPE).copy())
    test_y = torch.from_numpy(arrays["test_labels"].astype(np.int64))
    if limit is not None:
        train_x, train_y, test_x, test_y = train_x[:limit], train_y[:limit], test_x[:limit], test_y[:limit]
    if validation is None:
        validation = default_validation(len(train_x))
    if not 0 <= validation < len(train_x):
        raise RlgenError(validation_problem(validation, len(train_x), limit))
    cut = len(train_x) - validation
    to = lambda t: t.to(device)  # noqa: E731
    return ImageSet(
        to(train_x[:cut]), to(train_y[:cut]), to(train_x[cut:]), to(train_y[cut:]), to(test_x), to(test_y), directory
    )


def check_pair(images: np.ndarray, labels: np.ndarray, directory: Path, split: str) -> None:
    """A split's images are 28 × 28 grey levels, one label each, every label a class number 0–9 (what the checksums
    vouch for in a named set, checked here for a user's own files)."""
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE[1:]:
        raise RlgenError(f"{directory}: the {split} images are {' × '.join(map(str, images.shape[1:]))}; rlgen's models "
                         f"take {IMAGE_SHAPE[1]} × {IMAGE_SHAPE[2]} grey-level images")
    if labels.ndim != 1 or len(labels) != len(images):
        raise RlgenError(f"{directory}: {len(labels)} {split} labels for {len(images)} {split} images")
    if len(labels) and int(labels.max()) >= NUM_CLASSES:
        raise RlgenError(f"{directory}: a {split} label is {int(labels.max())}; labels must be class numbers 0 to "
                         f"{NUM_CLASSES - 1}")


def default_validation(train_images: int) -> int:
    """The validation split when `data.validation` is unset: 1/12 of the training images, as Fashion-MNIST's usual
    5,000 of 60,000 (417 of data.limit=5000)."""
    return round(train_images / 12)


def validation_problem(validation: int, train_images: int, limit: int | None) -> str:
    """Why a validation split cannot be held out of `train_images`, and what would do."""
    where = f"the {train_images:,} training images data.limit keeps" if limit is not None else \
        f"the {train_images:,} training images"
    return (f"data.validation {validation:,} does not fit in {where}: use at most {max(train_images - 1, 0):,} "
            f"(data.validation={default_validation(train_images)} holds out 1/12, or leave it unset to get that)")


def training_count(data_set: IdxSet, limit: int | None) -> int:
    """How many training images a named set gives under `limit` (before the validation split)."""
    count = data_set.files["train_images"].count
    return min(count, limit) if limit is not None else count
