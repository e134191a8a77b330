"""The IDX file format (LeCun's MNIST files): a big-endian header (magic number, dimensions) and uint8 data, gzipped
or not. Reading is bounded: a file, or a gzip stream, larger than any IDX file rlgen reads is refused before it
fills the memory."""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np

from rlgen.errors import RlgenError

HOW_TO_GET = "get the files again with `rlgen data fetch` (Fashion-MNIST: or `apt-get install dataset-fashion-mnist`)"


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


def gunzip_bounded(stored: bytes, path: Path) -> bytes:
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


def file_bytes(path: Path) -> tuple[bytes, bytes]:
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
    return stored, gunzip_bounded(stored, path)


def read_idx(path: Path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file, gzip-compressed (name ends in .gz) or not."""
    return parse_idx(file_bytes(path)[1], Path(path), expected_magic)
