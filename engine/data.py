"""Image-classification data: the built-in MNIST sample, folders of IDX files and .npz archives.

Every source becomes the same :class:`Dataset` of float32 (N, C, H, W) images and int64 labels, so
the trainer never needs to know where the data came from.  Anything wrong with a file raises
:class:`DataError`, whose message names the file and the problem, because it is read by someone who
just picked that file in a dialog, not by a programmer reading a traceback.

Pixel scaling is deliberately simple: whole-number pixels are 8-bit intensities and are divided by
255 (uint16 pixels by 65535); floating-point pixels are used as they are.
"""

import difflib
import math
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from engine.bounded_io import (
    INFLATE_ERRORS,
    NpyHeader,
    Npz,
    check_claim,
    gunzip,
    is_gzip,
    open_regular,
    path_kind,
    read_array,
    size_of,
)
from engine.cifar import Cifar, is_cifar, read_cifar
from engine.errors import AmbiguousLayout, DataError, clip, listing
from engine.image_folder import ImageFolder, Progress, is_image_folder, read_image_folder
from engine.limits import check_data
from engine.spec import shape_text
from engine.wording import plural

BUILTIN = "mnist-5k"
_ASSETS = Path(__file__).resolve().parent.parent / "assets"

# A label this large is far more likely to be a wrong array than a real class, and building that
# many class names would exhaust memory.
MAX_CLASSES = 10_000
#: The longest class name: enough for any label, short enough for a table's column.
MAX_NAME = 100

# IDX type codes from the format's specification; multi-byte values are stored big-endian.
_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Matches the official names (train-images-idx3-ubyte), the dotted variant some mirrors use
# (train-images.idx3-ubyte) and prefixed sets such as EMNIST's (emnist-digits-test-labels-...).
_IDX_NAME = re.compile(
    r"(?:^|[-_.])(train|t10k|test)[-_.](images|labels)[-_.]idx\d[-_.]ubyte(?:\.gz)?$",
    re.IGNORECASE,
)
_ROLE_WORDS = {
    ("train", "images"): ("training images", "train-images-idx3-ubyte"),
    ("train", "labels"): ("training labels", "train-labels-idx1-ubyte"),
    ("test", "images"): ("test images", "t10k-images-idx3-ubyte"),
    ("test", "labels"): ("test labels", "t10k-labels-idx1-ubyte"),
}


def as_split(data: Any, *, test: bool = False) -> tuple[Any, Any]:
    """An (x, y) pair from a pair or from a data set (its train split, or test when `test`)."""
    if hasattr(data, "train") and hasattr(data, "test"):
        data = data.test if test else data.train
    x, y = data
    return x, y


class Split(NamedTuple):
    """Images and the labels that belong to them, kept together so they cannot drift apart."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True, eq=False)  # eq=False: comparing array fields element-wise would raise
class Dataset:
    """A loaded data set in the one layout the trainer understands, whatever the source was."""

    name: str
    train: Split
    test: Split
    class_names: tuple[str, ...]
    normalization: tuple[tuple[float, ...], tuple[float, ...]] | None
    #: What loading decided on the user's behalf (a layout it detected), one line each, to show.
    notes: tuple[str, ...] = ()

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image: what the network's first layer must accept."""
        channels, height, width = self.train.x.shape[1:]
        return int(channels), int(height), int(width)

    @property
    def classes(self) -> int:
        """Width of the network's output layer."""
        return len(self.class_names)


class _Arrays(NamedTuple):
    """Raw images and labels plus words naming where each came from, for error messages."""

    x: np.ndarray
    y: np.ndarray
    x_src: str
    y_src: str


class _Raw(NamedTuple):
    train: _Arrays
    test: _Arrays | None
    class_names: tuple[str, ...] | None
    notes: tuple[str, ...] = ()
    #: The reader built (N, C, H, W) itself (CIFAR, image folders): no layout to tell.
    channels_first: bool = False


class _Idx(NamedTuple):
    """An IDX file's header, read and checked against the file's size; no data read yet."""

    path: Path
    dtype: np.dtype
    dims: tuple[int, ...]
    header_bytes: int

    @property
    def count(self) -> int:
        return math.prod(self.dims)


def _idx_stream(path: Path, f: IO[bytes]) -> tuple[IO[bytes], bool]:
    """The IDX bytes of an open file, inflated as they are read when the file is gzipped (recognised
    by content rather than by a ``.gz`` suffix, because browsers often unpack a download but keep
    its name)."""
    return (gunzip(f), True) if is_gzip(f) else (f, False)


def _idx_header(path: Path) -> _Idx:
    with open_regular(path, DataError, "data file") as f:
        size = size_of(f)
        stream, compressed = _idx_stream(path, f)
        start = _read_some(stream, 4, path)
        if len(start) < 4:
            raise DataError(f"{path} is too short to be an IDX file ({plural(len(start), 'byte')}).")
        if start[0] or start[1]:
            raise DataError(
                f"{path} has the wrong magic number (0x{start[:4].hex()}) for an IDX file; "
                "it is not an MNIST-format images or labels file."
            )
        if start[2] not in _IDX_TYPES:
            raise DataError(f"{path} uses an unknown IDX data type code (0x{start[2]:02x}).")
        dtype, ndim = _IDX_TYPES[start[2]], start[3]
        if ndim == 0:
            raise DataError(f"{path} declares no dimensions in its IDX header.")
        dims_bytes = _read_some(stream, 4 * ndim, path)
        if len(dims_bytes) < 4 * ndim:
            raise DataError(f"{path} is truncated: it ends inside its IDX header.")
    dims = tuple(int(d) for d in np.frombuffer(dims_bytes, ">u4"))
    header = 4 + 4 * ndim
    check_claim(header + math.prod(dims) * dtype.itemsize, size, compressed, str(path))
    return _Idx(path, dtype, dims, header)


def _read_some(stream: IO[bytes], n: int, path: Path) -> bytes:
    try:
        return stream.read(n)
    except INFLATE_ERRORS as exc:
        why = clip(exc, 120)
        raise DataError(f"{path} is a damaged gzip file ({why}); try downloading it again.") from None


def _idx_data(idx: _Idx) -> np.ndarray:
    """The values of a checked header's file, inflated in bounded chunks into their own array."""
    with open_regular(idx.path, DataError, "data file") as f:
        stream, _ = _idx_stream(idx.path, f)
        _read_some(stream, idx.header_bytes, idx.path)
        array = read_array(stream, idx.dtype, idx.dims, str(idx.path))
    return array.astype(idx.dtype.newbyteorder("="), copy=False)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file, gzipped or not, as a native-byte-order array of its type; its size is
    checked against the file's and against :mod:`engine.limits` before it is read."""
    idx = _idx_header(Path(path))
    check_data(idx.count * idx.dtype.itemsize, str(path))
    return _idx_data(idx)


#: What --data and the window's Open Data take, said wherever a source is not found.
ACCEPTED = (
    f"A data set is {BUILTIN} (built in), a folder of MNIST-format IDX files, of CIFAR-10 or CIFAR-100 "
    "batches or of images (a folder per class), or an .npz file."
)


def _did_you_mean(source: str | os.PathLike[str]) -> str:
    """' Did you mean mnist-5k?' when `source` is a near miss of a built-in name, else ''."""
    close = difflib.get_close_matches(str(source).lower(), [BUILTIN], n=1, cutoff=0.6)
    return f" Did you mean {close[0]}?" if close else ""


def load_dataset(
    source: str | os.PathLike[str] = BUILTIN,
    *,
    normalize: bool = False,
    validation_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    layout: str = "auto",
    image_size: tuple[int, int] | None = None,
    colour: str = "auto",
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Dataset:
    """Load the built-in set, a folder of MNIST-format IDX files, CIFAR files or class folders of
    images, or an ``.npz`` archive.

    An ``.npz`` needs images ``x`` and labels ``y``; ``x_test``/``y_test`` and ``class_names`` are
    optional.  A source without a test split gets a stratified, ``seed``-ed validation split of
    ``validation_fraction`` of its training images instead, so accuracy is never measured on
    images the network trained on.  ``normalize`` standardises each channel with the training
    split's statistics (recorded in ``normalization``).  ``limit`` keeps only the first ``limit``
    training images, for quick runs; classes are still counted over the whole source.
    ``layout`` says how 4-D images are stored: "nchw", "nhwc", or "auto" to tell from the shape
    (see :func:`_channels_first`). ``image_size`` and ``colour`` apply to image folders
    (:func:`engine.image_folder.read_image_folder`); ``progress(done, total)`` and ``cancelled()``
    to image folders and CIFAR (:func:`engine.cifar.read_cifar`), whose reading takes a while.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be between 0 and 1, not {validation_fraction}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if isinstance(source, str) and source == BUILTIN:
        path, name = _ASSETS / BUILTIN, BUILTIN
    else:
        path = Path(source)
        name = path.resolve().name
    if not os.path.lexists(path):
        raise DataError(f"{path}: does not exist.{_did_you_mean(source)} {ACCEPTED}")
    if path_kind(path, DataError, "data file") == "folder":
        cifar = read_cifar(path, progress, cancelled)
        if cifar is not None:
            raw = _from_cifar(cifar)
        elif reads_images(path):
            raw = _from_images(read_image_folder(
                path, size=image_size, colour=colour, progress=progress, cancelled=cancelled
            ))
        else:
            raw = _read_idx_folder(path)
    else:
        with open_regular(path, DataError, "data file") as f:
            if not zipfile.is_zipfile(f):  # a CSV, say
                raise DataError(f"{path}: is not an .npz archive (NumPy's savez format). {ACCEPTED}")
        raw = _read_npz(path)

    notes = list(raw.notes)
    layout = "nchw" if raw.channels_first else layout
    train = _checked(raw.train, layout, notes)
    test = _checked(raw.test, layout, notes) if raw.test is not None else None
    if test is not None and test.x.shape[1:] != train.x.shape[1:]:
        raise DataError(
            f"{test.x_src} holds images of shape {shape_text(test.x.shape[1:])} but {train.x_src} holds "
            f"{shape_text(train.x.shape[1:])}; training and test images must be the same size."
        )
    class_names = _class_names(train, test, raw.class_names)

    if test is None:
        keep, held_out = _hold_out(train, validation_fraction, seed)
        test_x, test_y = train.x[held_out], train.y[held_out]
        train_x, train_y = train.x[keep[:limit]], train.y[keep[:limit]]
    else:
        train_x, train_y = train.x[:limit], train.y[:limit]
        test_x, test_y = test.x, test.y
    if len(class_names) < 2:  # said here, not as the network's "classes must be ≥ 2"
        raise DataError(
            f"{train.y_src}: every label is class {class_names[0]!r}, and a classifier needs two or "
            "more classes."
        )
    train_x = _to_float(train_x, train.x_src)
    test_x = _to_float(test_x, train.x_src if test is None else test.x_src)
    normalization = _normalize(train_x, test_x) if normalize else None
    return Dataset(
        name=name,
        train=Split(train_x, np.ascontiguousarray(train_y)),
        test=Split(test_x, np.ascontiguousarray(test_y)),
        class_names=class_names,
        normalization=normalization,
        notes=tuple(notes),
    )


def reads_images(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`load_dataset` reads `path` as class folders of images, so that its
    `image_size` and `colour` apply (a folder of IDX or CIFAR files is read as those)."""
    path = Path(path)
    return path.is_dir() and not is_cifar(path) and not _find_idx_files(path) and is_image_folder(path)


def _from_cifar(cifar: Cifar) -> _Raw:
    problem = class_names_problem(list(cifar.class_names))
    if problem:
        raise DataError(f"{cifar.train.source}: its {problem}.")
    train, test = (_Arrays(p.x, p.y, p.source, p.source) for p in (cifar.train, cifar.test))
    return _Raw(train, test, cifar.class_names, channels_first=True)


def _from_images(folder: ImageFolder) -> _Raw:
    train, test = (None if p is None else _Arrays(p.x, p.y, p.source, p.source) for p in folder[:2])
    return _Raw(train, test, folder.class_names, folder.notes, channels_first=True)


def _read_idx_folder(folder: Path) -> _Raw:
    files = _find_idx_files(folder)
    if not files:
        raise DataError(
            f"{folder} holds no MNIST-format IDX files (looked for names such as "
            "train-images-idx3-ubyte and train-labels-idx1-ubyte, optionally ending in .gz), no "
            "CIFAR files and no class folders of images (<class name>/*.png|jpg|bmp)."
        )
    for role in (("train", "images"), ("train", "labels")):
        if role not in files:
            words, example = _ROLE_WORDS[role]
            raise DataError(f"{folder} has no {words} file ({example} or {example}.gz).")
    test_roles = [role for role in (("test", "images"), ("test", "labels")) if role in files]
    if len(test_roles) == 1:
        (present,) = test_roles
        missing = ("test", "labels" if present[1] == "images" else "images")
        words, example = _ROLE_WORDS[missing]
        raise DataError(
            f"{folder} has {files[present].name} but no matching {words} file ({example} or {example}.gz)."
        )

    headers = {role: _idx_header(path) for role, path in files.items()}
    check_data(sum(_memory(h.dims, h.dtype, role[1] == "labels") for role, h in headers.items()), str(folder))

    def arrays(split: str) -> _Arrays:
        images, labels = headers[(split, "images")], headers[(split, "labels")]
        return _Arrays(_idx_data(images), _idx_data(labels), str(images.path), str(labels.path))

    return _Raw(arrays("train"), arrays("test") if test_roles else None, None)


def _memory(shape: tuple[int, ...], dtype: np.dtype, labels: bool) -> int:
    """Bytes an array of `shape` takes as read and then as the trainer holds it (float32 images,
    int64 labels): what :func:`engine.limits.check_data` is given before anything is read."""
    count = math.prod(shape)
    return count * (dtype.itemsize + (8 if labels else 4))


def _find_idx_files(folder: Path) -> dict[tuple[str, str], Path]:
    found: dict[tuple[str, str], list[Path]] = {}
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise DataError(f"{folder} could not be read: {exc.strerror or exc}.") from exc
    for entry in entries:
        match = _IDX_NAME.search(entry.name)
        if match and not entry.name.startswith(".") and entry.is_file():
            split = "train" if match[1].lower() == "train" else "test"
            found.setdefault((split, match[2].lower()), []).append(entry)
    chosen = {}
    for role, paths in found.items():
        variants = sorted({re.sub(r"\.gz$", "", p.name, flags=re.IGNORECASE) for p in paths})
        if len(variants) > 1:
            raise DataError(
                f"{folder} holds several {_ROLE_WORDS[role][0]} files ({', '.join(variants)}); "
                "keep one set of IDX files per folder."
            )
        # An unpacked copy beside its .gz is the same data and quicker to read.
        chosen[role] = min(paths, key=lambda p: p.name.lower().endswith(".gz"))
    return chosen


_NPZ_KEYS = ("x", "y", "x_test", "y_test", "class_names")


def _read_npz(path: Path) -> _Raw:
    with Npz(path) as archive:
        keys = set(archive.members)
        for key in ("x", "y"):
            if key not in keys:
                holds = listing(sorted(clip(repr(k), 40) for k in keys), sep=", ") or "nothing"
                raise DataError(
                    f"{path} has no array named '{key}' (it holds: {holds}); an .npz data set "
                    "needs its images in 'x' and its labels in 'y'."
                )
        if ("x_test" in keys) != ("y_test" in keys):
            present, absent = ("x_test", "y_test") if "x_test" in keys else ("y_test", "x_test")
            raise DataError(f"{path} has '{present}' but no '{absent}'; a test split needs both.")
        headers = {key: archive.header(key) for key in _NPZ_KEYS if key in keys}
        if "class_names" in headers:
            _check_class_names_header(headers["class_names"], path)
        check_data(
            sum(_memory(h.shape, h.dtype, key.startswith("y")) for key, h in headers.items()), str(path)
        )

        def arrays(x_key: str, y_key: str) -> _Arrays:
            x, y = archive.read(x_key), archive.read(y_key)
            return _Arrays(x, y, f"array '{x_key}' in {path}", f"array '{y_key}' in {path}")

        names = None
        if "class_names" in keys:
            names = _npz_class_names(archive.read("class_names"), path)
        test = arrays("x_test", "y_test") if "x_test" in keys else None
        return _Raw(arrays("x", "y"), test, names)


def _check_class_names_header(header: NpyHeader, path: Path) -> None:
    """Refuse, from its header alone, a class-name array too long or too wide to be names."""
    if len(header.shape) != 1 or header.dtype.kind not in "US":
        raise DataError(
            f"array 'class_names' in {path} must be a 1-D array of strings, "
            f"not a {len(header.shape)}-D {header.dtype} array."
        )
    chars = header.dtype.itemsize // (4 if header.dtype.kind == "U" else 1)
    if header.shape[0] > MAX_CLASSES or chars > MAX_NAME:
        raise DataError(
            f"array 'class_names' in {path} holds {header.shape[0]:,} names of up to {chars:,} characters; "
            f"a data set has at most {MAX_CLASSES:,} classes, each named in at most {MAX_NAME} characters."
        )


def class_names_problem(names: Any, classes: int | None = None) -> str | None:
    """Why `names` cannot be a data set's class names, or None: the one rule for data files and
    weight files (a list of at most `classes`, or MAX_CLASSES, short strings)."""
    most = MAX_CLASSES if classes is None else min(classes, MAX_CLASSES)
    if not isinstance(names, list | tuple) or len(names) > most:
        return f"class_names must be a list of at most {most:,} names"
    if not all(isinstance(n, str) and len(n) <= MAX_NAME for n in names):
        return f"class_names must be text of at most {MAX_NAME} characters each"
    return None


def _npz_class_names(names: np.ndarray, path: Path) -> tuple[str, ...]:
    return tuple(n.decode(errors="replace") if isinstance(n, bytes) else str(n) for n in names.tolist())


LAYOUTS = ("auto", "nchw", "nhwc")
#: Channel counts images have: grey, RGB, RGBA.
_IMAGE_CHANNELS = (1, 3, 4)


def _channels_first(x: np.ndarray, source: str, layout: str, notes: list[str]) -> np.ndarray:
    """4-D images as (N, C, H, W). With layout "auto", a last axis of 1, 3 or 4 where the second is
    not is read as channels-last (N, H, W, C) and transposed, with a note saying so; a shape that
    reads both ways is refused, naming both readings and the option that chooses."""
    n, a, b, c = x.shape
    if layout == "auto":
        first, last = a in _IMAGE_CHANNELS, c in _IMAGE_CHANNELS
        if first and last:
            raise AmbiguousLayout(
                f"{source} is {shape_text(x.shape)}, which reads two ways: {plural(n, 'image')} of "
                f"{plural(a, 'channel')} of {b}×{c} (channels first, NCHW) or {plural(n, 'image')} of "
                f"{a}×{b} with {plural(c, 'channel')} (channels last, NHWC)"
            )
        layout = "nhwc" if last else "nchw"
        if last:
            notes.append(f"{source} is {shape_text(x.shape)}: read as channels-last (N, H, W, C) images "
                         f"of {a}×{b} with {plural(c, 'channel')} (--layout nchw to override).")
    if layout == "nhwc":
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


def _checked(part: _Arrays, layout: str, notes: list[str]) -> _Arrays:
    """Catch every problem with one split's arrays now, with words, before any arithmetic."""
    x, y = part.x, part.y
    if x.ndim == 3:
        x = x[:, np.newaxis]
    elif x.ndim == 4:
        x = _channels_first(x, part.x_src, layout, notes)
    else:
        hint = ", which looks like labels rather than images" if x.ndim == 1 else ""
        raise DataError(
            f"{part.x_src} holds {x.ndim}-D data{hint}; images must be (N, H, W) or (N, C, H, W)."
        )
    if x.dtype.kind not in "uif":
        raise DataError(f"{part.x_src} holds {x.dtype} values; pixels must be numbers.")
    if x.size == 0:
        raise DataError(f"{part.x_src} holds no images.")
    if x.dtype.kind in "ui" and x.dtype != np.uint8:
        low, high, top = x.min(), x.max(), _pixel_scale(x.dtype)
        if low < 0 or high > top:
            raise DataError(
                f"{part.x_src} holds whole-number pixels from {low} to {high}; these are read as "
                f"8-bit intensities, so they must lie between 0 and {top} "
                "(use uint16 for 16-bit images, or floats)."
            )

    if y.ndim != 1:
        hint = ", which looks like images rather than labels" if y.ndim >= 3 else ""
        raise DataError(
            f"{part.y_src} holds {y.ndim}-D data{hint}; labels must be a 1-D list of class "
            "numbers, one per image."
        )
    if y.dtype.kind not in "ui":
        raise DataError(
            f"{part.y_src} holds {y.dtype} labels; labels must be whole numbers "
            "(an integer array of class numbers 0, 1, 2, ...)."
        )
    if len(y) != len(x):
        raise DataError(
            f"{part.x_src} has {plural(len(x), 'image')} but {part.y_src} has {plural(len(y), 'label')}; "
            "there must be exactly one label per image."
        )
    if y.min() < 0:
        raise DataError(
            f"{part.y_src} holds negative labels (the smallest is {y.min()}); labels must be "
            "class numbers 0, 1, 2, ..."
        )
    if y.max() >= MAX_CLASSES:
        raise DataError(
            f"{part.y_src} holds the label {y.max()}; labels must be class numbers 0, 1, 2, ... "
            f"(at most {MAX_CLASSES:,} classes)."
        )
    return part._replace(x=x, y=y.astype(np.int64, copy=False))


def _class_names(train: _Arrays, test: _Arrays | None, given: tuple[str, ...] | None) -> tuple[str, ...]:
    parts = [train] if test is None else [train, test]
    if given is not None:
        for part in parts:
            if part.y.max() >= len(given):
                raise DataError(
                    f"{part.y_src} holds the label {part.y.max()}, but 'class_names' lists only "
                    f"{plural(len(given), 'class')}; labels must be below the number of class names."
                )
        return given
    top = int(train.y.max())
    if test is not None and test.y.max() > top:
        raise DataError(
            f"{test.y_src} holds the label {test.y.max()}, but the training labels "
            f"({train.y_src}) only go up to {top}; every class must appear in training."
        )
    return tuple(str(i) for i in range(top + 1))


def _hold_out(train: _Arrays, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split off a validation set with each class in proportion, the same for the same seed."""
    n = len(train.y)
    n_held = round(n * fraction)
    if not 0 < n_held < n:
        raise DataError(
            f"{train.x_src} has only {plural(n, 'image')}, too few to hold out {fraction:.0%} of them for "
            "validation; add a test split or more images."
        )
    rng = np.random.default_rng(seed)
    counts = np.bincount(train.y)
    shuffled = rng.permutation(n)
    by_class = shuffled[np.argsort(train.y[shuffled], kind="stable")]
    first_of_class = np.cumsum(counts) - counts
    rank = np.empty(n)
    rank[by_class] = np.arange(n) - first_of_class[train.y[by_class]]
    # Taking the images that come earliest within their own (shuffled) class, measured as a
    # fraction of that class, gives every class its share; random keys break ties between classes.
    spread = (rank + 0.5) / counts[train.y]
    held = np.sort(np.lexsort((rng.random(n), spread))[:n_held])
    keep = np.ones(n, dtype=bool)
    keep[held] = False
    return np.flatnonzero(keep), held


def _pixel_scale(dtype: np.dtype) -> int:
    return 65535 if dtype == np.uint16 else 255


def _to_float(x: np.ndarray, source: str) -> np.ndarray:
    """float32 pixels, checked finite after the conversion: float64 pixels of 1e39 become inf."""
    if x.dtype.kind == "f":
        with np.errstate(over="ignore"):
            out = np.ascontiguousarray(x, dtype=np.float32)
        if not np.isfinite(out).all():
            raise DataError(
                f"{source} holds NaN or infinite pixel values, or values beyond float32's range (±3.4e38)."
            )
        return out
    out = x.astype(np.float32, order="C")
    out /= _pixel_scale(x.dtype)  # divide rather than multiply, so 255 maps to exactly 1.0
    return out


def _normalize(train_x: np.ndarray, test_x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Standardise both splits in place with the training split's per-channel statistics.

    Test statistics are never used: they would leak information about the test images.
    """
    means, stds = [], []
    for channel in train_x.transpose(1, 0, 2, 3):
        mean = float(channel.mean(dtype=np.float64))
        centred = channel - np.float32(mean)
        centred *= centred
        # A constant channel has nothing to scale, and dividing by 0 would fill it with NaN.
        stds.append(float(np.sqrt(centred.mean(dtype=np.float64))) or 1.0)
        means.append(mean)
    stats = tuple(means), tuple(stds)
    if not np.isfinite(stats).all():
        raise DataError("the pixel values are too large to standardise in float32; scale them down first.")
    for x in (train_x, test_x):
        _standardize(x, stats)
    return stats


def _standardize(x: np.ndarray, stats: tuple[tuple[float, ...], tuple[float, ...]]) -> None:
    """In place, in float32, channel by channel: the one place images are standardised."""
    for c, (mean, std) in enumerate(zip(*stats, strict=True)):
        x[:, c] -= np.float32(mean)
        x[:, c] /= np.float32(std)


def with_normalization(dataset: Dataset, stats: Any) -> Dataset:
    """`dataset` standardised with recorded (means, stds), as a network was trained on it (a new
    data set; the given one is left as it is), or `dataset` itself when `stats` is None."""
    if stats is None:
        return dataset
    means, stds = (tuple(float(v) for v in s) for s in stats)
    if len(means) != dataset.input_shape[0]:
        raise DataError(
            f"the network was trained on {len(means)}-channel data but {dataset.name} has "
            f"{dataset.input_shape[0]} channels"
        )
    train, test = (Split(x.copy(), y) for x, y in (dataset.train, dataset.test))
    for x in (train.x, test.x):
        _standardize(x, (means, stds))
    return replace(dataset, train=train, test=test, normalization=(means, stds))
