"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): finding, checking, downloading and loading the four IDX files.

Search order: an explicit `data_dir`, `$RLGEN_DATA_DIR`, the user cache `~/.cache/rlgen/fashion-mnist`, then
Debian's `dataset-fashion-mnist` in /usr/share/datasets/fashion-mnist. If none holds the files, they are downloaded
from Zalando's server into the cache. A file is accepted when its gzip bytes have the official md5, or when its
decompressed bytes do (Debian re-compresses the files); it is also checked for its IDX magic number and size.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rlgen.checkpoint import atomic_write_bytes
from rlgen.errors import RlgenError

IMAGE_SHAPE = (1, 28, 28)  # (channels, height, width): the one place the images' size is written
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DEFAULT_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET = "get it with `rlgen data fetch` or `apt-get install dataset-fashion-mnist`"


@dataclass(frozen=True)
class IdxFile:
    name: str  # file name without .gz
    magic: int  # 2051 for images (idx3), 2049 for labels (idx1)
    count: int
    gz_md5: str  # Zalando's files
    raw_md5: str  # the decompressed bytes (what Debian's re-compressed files hold)


FILES = {
    "train_images": IdxFile("train-images-idx3-ubyte", 2051, 60000, "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    "train_labels": IdxFile("train-labels-idx1-ubyte", 2049, 60000, "25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
    "test_images": IdxFile("t10k-images-idx3-ubyte", 2051, 10000, "bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
    "test_labels": IdxFile("t10k-labels-idx1-ubyte", 2049, 10000, "bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
}


def parse_idx(raw: bytes, path: Path, expected_magic: int | None = None) -> np.ndarray:
    """Decode IDX bytes (uint8 data) into an array shaped by the header; errors name the file."""
    if len(raw) < 8:
        raise RlgenError(f"{path} is truncated (only {len(raw)} bytes); {HOW_TO_GET}")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic >> 8 != 0x08 or (expected_magic is not None and magic != expected_magic):
        want = f" (expected {expected_magic})" if expected_magic is not None else ""
        raise RlgenError(f"{path} has a bad magic number {magic}{want}: not an IDX file of uint8 data; {HOW_TO_GET}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RlgenError(f"{path} is truncated inside its header; {HOW_TO_GET}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    size = int(np.prod(shape))
    if len(raw) != header + size:
        raise RlgenError(f"{path} has the wrong size ({len(raw)} bytes, its header needs {header + size}); {HOW_TO_GET}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


MAX_IDX_BYTES = 256 * 2**20  # Fashion-MNIST's largest file holds 47 MB; nothing rlgen reads is larger


def _gunzip_bounded(stored: bytes, path: Path) -> bytes:
    """Decompress a gzipped IDX file no further than the size its own header implies (plus one byte, to notice
    more): a file that would inflate past it (a "gzip bomb") is refused instead of filling the memory."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
    pending, raw = stored, b""

    def more(upto: int) -> bytes:
        nonlocal pending, raw
        if upto > len(raw):
            raw += inflater.decompress(pending, upto - len(raw))
            pending = inflater.unconsumed_tail
        return raw

    try:
        if len(more(4)) < 4:
            return raw  # too short to be IDX: parse_idx names the problem
        header = 4 + 4 * raw[3]
        if len(more(header)) < header:
            return raw
        size = header + math.prod(struct.unpack(f">{raw[3]}I", raw[4:header]))
        if size > MAX_IDX_BYTES:
            raise RlgenError(f"{path} claims {size:,} bytes of data, more than any IDX file rlgen reads; {HOW_TO_GET}")
        more(size + 1)
    except zlib.error:
        raise RlgenError(f"{path} is truncated or not valid gzip; {HOW_TO_GET}") from None
    if len(raw) > size:
        raise RlgenError(f"{path} decompresses past the {size:,} bytes its IDX header implies; {HOW_TO_GET}")
    if not inflater.eof:
        raise RlgenError(f"{path} is truncated or not valid gzip; {HOW_TO_GET}")
    return raw


def _file_bytes(path: Path) -> tuple[bytes, bytes]:
    """(bytes on disk, IDX bytes): the same unless the name ends in .gz."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_IDX_BYTES:
            raise RlgenError(f"{path} is larger than any IDX file rlgen reads; {HOW_TO_GET}")
        stored = path.read_bytes()
    except FileNotFoundError:
        raise RlgenError(f"{path} is missing; {HOW_TO_GET}") from None
    except OSError as exc:
        raise RlgenError(f"{path} cannot be read ({exc.strerror}); {HOW_TO_GET}") from None
    if path.suffix != ".gz":
        return stored, stored
    return stored, _gunzip_bounded(stored, path)


def read_idx(path: Path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file, gzip-compressed (name ends in .gz) or not."""
    return parse_idx(_file_bytes(path)[1], Path(path), expected_magic)


def _file_in(directory: Path, spec: IdxFile) -> Path | None:
    for candidate in (directory / f"{spec.name}.gz", directory / spec.name):
        if candidate.is_file():
            return candidate
    return None


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rlgen" / "fashion-mnist"


def candidate_dirs(data_dir: Path | None = None) -> list[Path]:
    dirs = [Path(data_dir)] if data_dir else []
    if os.environ.get("RLGEN_DATA_DIR"):
        dirs.append(Path(os.environ["RLGEN_DATA_DIR"]))
    return dirs + [cache_dir(), SYSTEM_DIR]


def _load_checked(path: Path, spec: IdxFile) -> np.ndarray:
    stored, raw = _file_bytes(path)
    array = parse_idx(raw, path, spec.magic)  # magic and size first: they give the more useful message
    if hashlib.md5(stored).hexdigest() != spec.gz_md5 and hashlib.md5(raw).hexdigest() != spec.raw_md5:
        raise RlgenError(f"{path} has the wrong checksum (damaged or not Fashion-MNIST); {HOW_TO_GET}")
    if array.shape[0] != spec.count:
        raise RlgenError(f"{path} holds {array.shape[0]} items, expected {spec.count}; {HOW_TO_GET}")
    return array


def locate(data_dir: Path | None = None) -> Path | None:
    """The first candidate folder that holds all four files (checked when loaded), or None. An explicit `data_dir`
    holding only some of them is an error rather than a reason to look elsewhere."""
    if data_dir is not None and not Path(data_dir).is_dir():
        raise RlgenError(f"data folder {data_dir} does not exist; name a folder with the four Fashion-MNIST files, or "
                         f"leave data.dir unset to search for them")
    if data_dir is not None:
        present = [spec.name for spec in FILES.values() if _file_in(Path(data_dir), spec)]
        if present and len(present) < len(FILES):
            missing = [spec.name for spec in FILES.values() if spec.name not in present]
            raise RlgenError(f"{data_dir} lacks {', '.join(missing)}; {HOW_TO_GET}")
    for directory in candidate_dirs(data_dir):
        if all(_file_in(directory, spec) for spec in FILES.values()):
            return directory
    return None


def download(target: Path, base_url: str | None = None, quiet: bool = False) -> Path:
    """Download the four official files into `target`, checking each md5 before it is put in place."""
    base_url = base_url or os.environ.get("RLGEN_FASHION_MNIST_URL", DEFAULT_URL)
    target.mkdir(parents=True, exist_ok=True)
    for spec in FILES.values():
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
            raise RlgenError(f"cannot download {url} ({getattr(exc, 'reason', exc)}); install dataset-fashion-mnist "
                             f"or put the four files in {target}") from None
        digest = hashlib.md5(data).hexdigest()
        if digest != spec.gz_md5:
            try:
                ok = hashlib.md5(_gunzip_bounded(data, Path(url))).hexdigest() == spec.raw_md5
            except RlgenError:
                ok = False
            if not ok:
                raise RlgenError(f"downloaded {url} has the wrong checksum {digest}; nothing was saved")
        atomic_write_bytes(path, data)
    return target


def fetch(data_dir: Path | None = None, quiet: bool = False) -> Path:
    """Where the data is, downloading it into the cache (or `data_dir`) when no candidate folder has it."""
    found = locate(data_dir)
    if found is not None:
        return found
    return download(Path(data_dir) if data_dir else cache_dir(), quiet=quiet)


@dataclass
class FashionMNIST:
    """Each split as one uint8 tensor of images (N, 1, 28, 28) and one int64 tensor of labels (N,)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: Path


def load_fashion_mnist(
    data_dir: Path | None = None,
    validation: int = 5000,
    device: torch.device | str = "cpu",
    download_if_missing: bool = True,
    limit: int | None = None,
) -> FashionMNIST:
    """Load and check all four files; the last `validation` training images are held out as the validation split.

    `limit` keeps only the first `limit` training images (before the split) and test images, for quick runs.
    """
    directory = fetch(data_dir) if download_if_missing else locate(data_dir)
    if directory is None:
        raise RlgenError(f"Fashion-MNIST not found in {', '.join(map(str, candidate_dirs(data_dir)))}; {HOW_TO_GET}")
    arrays = {key: _load_checked(_file_in(directory, spec) or directory / spec.name, spec) for key, spec in FILES.items()}
    train_x = torch.from_numpy(arrays["train_images"].reshape(-1, *IMAGE_SHAPE).copy())
    train_y = torch.from_numpy(arrays["train_labels"].astype(np.int64))
    test_x = torch.from_numpy(arrays["test_images"].reshape(-1, *IMAGE_SHAPE).copy())
    test_y = torch.from_numpy(arrays["test_labels"].astype(np.int64))
    if limit is not None:
        train_x, train_y, test_x, test_y = train_x[:limit], train_y[:limit], test_x[:limit], test_y[:limit]
    if not 0 <= validation < len(train_x):
        raise RlgenError(f"validation split of {validation} does not fit in {len(train_x)} training images")
    cut = len(train_x) - validation
    to = lambda t: t.to(device)  # noqa: E731
    return FashionMNIST(
        to(train_x[:cut]), to(train_y[:cut]), to(train_x[cut:]), to(train_y[cut:]), to(test_x), to(test_y), directory
    )
