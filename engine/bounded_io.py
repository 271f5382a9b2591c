"""Bounded reading of user files: any loader of weights, specs or data sets reads through here.

A file a user picks may be a named pipe (reading blocks forever), unreadable, or crafted so that
a few kilobytes claim gigabytes: a gzip or zip member that inflates without end, an `.npy` header
that promises a (10⁹, 28, 28) array. So files are opened only when they are regular files, every
size a header claims is checked against the file's real size before anything is allocated, and
compressed data is inflated in bounded chunks into a buffer of the size already checked.
The caller checks the claimed sizes against its own limits (:mod:`engine.limits`) in between."""

from __future__ import annotations

import gzip
import math
import os
import stat
import tokenize
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, NamedTuple

import numpy as np

from engine.errors import ConvScopeError, DataError, clip

#: Bytes read or inflated at a time.
CHUNK = 1 << 20
#: Deflate expands data at most about 1032 to 1, so a compressed file that claims more is damaged.
MAX_DEFLATE_RATIO = 1032

ErrorType = Callable[[str], ConvScopeError]

_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _not_regular(mode: int, what: str) -> str:
    if stat.S_ISDIR(mode):
        return f"is a folder, not a {what}"
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"is {kind}, not a regular file"


def os_reason(exc: OSError) -> str:
    """An OSError in the words a user needs: "permission denied" rather than errno names."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return exc.strerror or clip(exc, 100)


def open_regular(path: str | os.PathLike[str], error: ErrorType = DataError, what: str = "file") -> IO[bytes]:
    """`path` opened for reading, only if it is a regular file; otherwise ``error(message)``.

    The file is opened without blocking and checked on the open descriptor, so a named pipe is
    refused instead of waiting forever for a writer, and nothing can swap the file in between."""
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise error(f"{name}: no such {what}") from None
    except OSError as exc:
        raise error(f"{name}: cannot open the {what} ({os_reason(exc)})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{name}: {_not_regular(mode, what)}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def path_kind(path: str | os.PathLike[str], error: ErrorType = DataError, what: str = "file") -> str:
    """"file" or "folder" for a path a user named; anything else (missing, a pipe, a device)
    raises ``error(message)`` without opening it."""
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise error(f"{name}: does not exist") from None
    except OSError as exc:
        raise error(f"{name}: cannot read it ({os_reason(exc)})") from None
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISREG(mode):
        return "file"
    raise error(f"{name}: {_not_regular(mode, what)}")


def size_of(stream: IO[bytes]) -> int:
    return os.fstat(stream.fileno()).st_size


def read_regular(
    path: str | os.PathLike[str], max_bytes: int, error: ErrorType = DataError, what: str = "file"
) -> bytes:
    """The whole of a regular file of at most `max_bytes` bytes."""
    with open_regular(path, error, what) as f:
        size = size_of(f)
        if size > max_bytes:
            raise error(f"{os.fspath(path)}: is {size:,} bytes, more than a {what} may be ({max_bytes:,})")
        try:
            data = f.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"{os.fspath(path)}: cannot read the {what} ({os_reason(exc)})") from None
    if len(data) > max_bytes:
        raise error(f"{os.fspath(path)}: is more than a {what} may be ({max_bytes:,} bytes)")
    return data


def is_gzip(stream: IO[bytes]) -> bool:
    """Whether a seekable stream starts with gzip's magic (recognised by content, since browsers
    often unpack a download but keep its .gz name); the stream is left where it was."""
    at = stream.tell()
    magic = stream.read(2)
    stream.seek(at)
    return magic == b"\x1f\x8b"


def gunzip(stream: IO[bytes]) -> IO[bytes]:
    """A reader that inflates `stream` only as far as it is read."""
    return gzip.GzipFile(fileobj=stream, mode="rb")


#: What a damaged gzip or zip stream raises while being read.
INFLATE_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)
#: What NumPy's .npy header parser lets through for a damaged header (found by tests/fuzz_files.py).
_HEADER_ERRORS = (ValueError, TypeError, SyntaxError, RecursionError, tokenize.TokenError, *INFLATE_ERRORS)


def read_exactly(stream: IO[bytes], n: int, source: str, error: ErrorType = DataError) -> bytes:
    """Exactly `n` bytes (a header: small), or ``error`` saying the file ends early."""
    try:
        data = stream.read(n)
    except INFLATE_ERRORS as exc:
        raise error(f"{source}: is damaged ({clip(exc, 120)}); try downloading it again") from None
    if len(data) != n:
        raise error(f"{source}: is truncated: it ends {n - len(data):,} bytes into a {n:,}-byte part")
    return data


def check_claim(
    claimed: int, stored: int, compressed: bool, source: str, error: ErrorType = DataError
) -> None:
    """Refuse a header that claims more data than its file can hold: exactly `stored` bytes when
    stored plainly, at most MAX_DEFLATE_RATIO times that when compressed."""
    if not compressed and claimed != stored:
        which = "truncated" if claimed > stored else "damaged (extra data after it)"
        raise error(f"{source}: is {which}: its header promises {claimed:,} bytes and {stored:,} follow")
    if compressed and claimed > stored * MAX_DEFLATE_RATIO:
        raise error(
            f"{source}: its header promises {claimed:,} bytes, more than {stored:,} compressed bytes can "
            "hold; the file is damaged or crafted"
        )


def read_array(
    stream: IO[bytes],
    dtype: np.dtype,
    shape: tuple[int, ...],
    source: str,
    error: ErrorType = DataError,
    fortran_order: bool = False,
) -> np.ndarray:
    """An array of `shape` read from `stream` in bounded chunks straight into its own buffer; the
    stream must then end, so data past what the header described is refused, not inflated."""
    count = math.prod(shape)
    array = np.empty(count, dtype)
    view = memoryview(array).cast("B")
    at = 0
    try:
        while at < len(view):
            got = stream.readinto(view[at : at + CHUNK])
            if not got:
                raise error(
                    f"{source}: is truncated: its header promises {len(view):,} bytes of data but only "
                    f"{at:,} follow"
                )
            at += got
        extra = stream.read(1)
    except INFLATE_ERRORS as exc:
        raise error(f"{source}: is damaged ({clip(exc, 120)}); try downloading it again") from None
    if extra:
        raise error(f"{source}: has extra data after the {len(view):,} bytes its header describes")
    if fortran_order:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)


class NpyHeader(NamedTuple):
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class Npz:
    """An `.npz` archive read member by member: each `.npy` header is read and checked against
    the member's real size before its array is allocated, and no member is unpickled.

    `members` maps each array's name (the member name without ``.npy``) to its zip entry."""

    def __init__(self, path: str | os.PathLike[str], error: ErrorType = DataError):
        self.path = os.fspath(path)
        self.error = error
        self._file = open_regular(path, error, "data file")
        try:
            self._zip = zipfile.ZipFile(self._file)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            self._file.close()
            raise error(
                f"{self.path}: is not an .npz archive (NumPy's savez format): {clip(exc, 100)}"
            ) from None
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            self.members.setdefault(key, info)

    def __enter__(self) -> Npz:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    def _where(self, key: str) -> str:
        return f"array {clip(key, 60)!r} in {self.path}"

    def _open(self, key: str) -> tuple[IO[bytes], NpyHeader, str]:
        info = self.members[key]
        where = self._where(key)
        if not info.filename.endswith(".npy"):
            raise self.error(f"{where}: is not a NumPy array (.npy member)")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            method = info.compress_type
            raise self.error(f"{where}: uses a compression NumPy's savez does not (method {method})")
        try:
            member = self._zip.open(info)
        except (*INFLATE_ERRORS, NotImplementedError, RuntimeError, ValueError) as exc:
            raise self.error(f"{where}: cannot be read ({clip(exc, 120)})") from None
        try:
            header = self._header(member, where)
            compressed = info.compress_type != zipfile.ZIP_STORED
            check_claim(info.file_size, info.compress_size, compressed, where, self.error)
            check_claim(member.tell() + header.nbytes, info.file_size, False, where, self.error)
        except BaseException:
            member.close()
            raise
        return member, header, where

    def _header(self, member: IO[bytes], where: str) -> NpyHeader:
        fmt = np.lib.format
        try:
            version = fmt.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(member)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = fmt.read_array_header_2_0(member)
            else:
                raise ValueError(f"unknown .npy version {version}")
        except _HEADER_ERRORS as exc:  # NumPy tokenizes and literal_evals the header's text
            raise self.error(f"{where}: is not a readable .npy array ({clip(exc, 120)})") from None
        if dtype.hasobject:
            raise self.error(f"{where}: holds Python objects, which are not loaded for safety")
        if any(d < 0 for d in shape):
            raise self.error(f"{where}: its header gives a negative size {clip(shape, 60)}")
        return NpyHeader(tuple(int(d) for d in shape), dtype, bool(fortran))

    def header(self, key: str) -> NpyHeader:
        """The shape and dtype of array `key`, checked against the member's size; nothing is
        allocated."""
        member, header, _ = self._open(key)
        member.close()
        return header

    def read(self, key: str) -> np.ndarray:
        """Array `key`, inflated in bounded chunks into a buffer of the size its checked header
        gives. Check :meth:`header` against your limits first."""
        member, header, where = self._open(key)
        with member:
            return read_array(member, header.dtype, header.shape, where, self.error, header.fortran_order)
