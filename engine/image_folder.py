"""Image folders: `root/<class name>/*.png|jpg|jpeg|bmp`, optionally split as `root/train/<class>/…`
and `root/test/<class>/…`, read with Pillow.

Class names are the folder names, sorted. Grey or RGB is told from the files (RGB when any image
has colour) or forced; images of differing sizes are resized to one size, by default the most
common. Headers are read first (cheap), so the sizes are known and checked against the memory
limits before any image is decoded. Files Pillow cannot read are skipped and counted, the first few
named. `progress(done, total)` is called as images are decoded and `cancelled()` polled between
them, so the CLI shows a bar and the window a progress bar with a Cancel button."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from engine.bounded_io import open_regular
from engine.errors import DataError, LoadCancelled, clip
from engine.limits import MAX_WINDOW, check_data
from engine.wording import plural

if TYPE_CHECKING:
    import PIL.Image

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
COLOURS = ("auto", "grey", "rgb")
#: How many skipped files a note names; the rest are counted.
NAMED_SKIPS = 3
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")

Progress = Callable[[int, int], None]


class Folder(NamedTuple):
    """Decoded images (uint8, (N, C, H, W)) and labels of one split."""

    x: np.ndarray
    y: np.ndarray
    source: str


class ImageFolder(NamedTuple):
    train: Folder
    test: Folder | None
    class_names: tuple[str, ...]
    notes: tuple[str, ...]


class _Entry(NamedTuple):
    path: Path
    label: int
    split: int  # 0 train, 1 test
    size: tuple[int, int]  # (width, height), as Pillow gives it
    grey: bool


def is_image_folder(root: Path) -> bool:
    """Whether `root` holds class folders (directly or under train/) with at least one image."""
    base = root / "train" if (root / "train").is_dir() else root
    return any(_images(folder) for folder in _class_folders(base))


def _class_folders(base: Path) -> list[Path]:
    try:
        return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise DataError(f"{base}: cannot list the folder ({exc.strerror or exc}).") from None


def _images(folder: Path) -> list[Path]:
    try:
        return sorted(
            p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS and not p.name.startswith(".")
        )
    except OSError as exc:
        raise DataError(f"{folder}: cannot list the folder ({exc.strerror or exc}).") from None


def read_image_folder(
    root: Path,
    *,
    size: tuple[int, int] | None = None,
    colour: str = "auto",
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ImageFolder:
    """The images under `root`, resized to `size` (height, width; default the most common size)
    in `colour` ("auto", "grey" or "rgb")."""

    if colour not in COLOURS:
        raise ValueError(f"colour must be one of {', '.join(COLOURS)}, not {colour!r}")
    split = (root / "train").is_dir()
    bases = [root / "train", root / "test"] if split else [root]
    class_names = tuple(p.name for p in _class_folders(bases[0]))
    if not class_names:
        raise DataError(f"{bases[0]}: holds no class folders (root/<class name>/*.png|jpg|bmp).")
    files: list[tuple[Path, int, int]] = []
    for s, base in enumerate(bases):
        if s == 1 and not base.is_dir():
            break
        for folder in _class_folders(base):
            if folder.name not in class_names:
                raise DataError(
                    f"{folder}: is a class the training folder {bases[0]} does not have; every test "
                    "class needs training images."
                )
            files += [(p, class_names.index(folder.name), s) for p in _images(folder)]

    skipped: list[tuple[Path, str]] = []
    entries: list[_Entry] = []
    for path, label, s in files:
        try:
            with _opened(path) as image:
                entries.append(_Entry(path, label, s, image.size, image.mode in _GREY_MODES))
        except DataError as exc:
            skipped.append((path, _reason(exc)))
    if not entries:
        unread = plural(len(skipped), "file")
        raise DataError(f"{root}: holds no readable images ({unread} could not be read).")
    if size is None:
        width, height = Counter(e.size for e in entries).most_common(1)[0][0]
        size = (height, width)
    height, width = size
    if not (1 <= height <= MAX_WINDOW and 1 <= width <= MAX_WINDOW):
        raise DataError(f"{root}: images of {height}×{width} are beyond what ConvScope trains on.")
    grey = colour == "grey" or (colour == "auto" and all(e.grey for e in entries))
    channels = 1 if grey else 3
    check_data(len(entries) * channels * height * width * 5, str(root))

    x = np.empty((len(entries), channels, height, width), np.uint8)
    kept = np.ones(len(entries), bool)
    for i, entry in enumerate(entries):
        if cancelled is not None and cancelled():
            raise LoadCancelled(f"{root}: loading cancelled")
        try:
            x[i] = decode_image(entry.path, grey, (width, height))
        except DataError as exc:
            skipped.append((entry.path, _reason(exc)))
            kept[i] = False
        if progress is not None:
            progress(i + 1, len(entries))
    y = np.array([e.label for e in entries], np.int64)
    test = np.array([e.split for e in entries]) == 1
    parts = [Folder(x[kept & ~test], y[kept & ~test], str(bases[0]))]
    if split and (kept & test).any():
        parts.append(Folder(x[kept & test], y[kept & test], str(bases[1])))
    classes = plural(len(class_names), "class")
    notes = [f"{root}: {plural(len(x[kept]), 'image')} of {classes}, read as "
             f"{'grey' if grey else 'RGB'} {height}×{width}."]
    if skipped:
        named = ", ".join(f"{p.name} ({why})" for p, why in skipped[:NAMED_SKIPS])
        more = f" and {len(skipped) - NAMED_SKIPS} more" if len(skipped) > NAMED_SKIPS else ""
        notes.append(f"{root}: skipped {plural(len(skipped), 'unreadable file')}: {named}{more}.")
    return ImageFolder(parts[0], parts[1] if len(parts) > 1 else None, class_names, tuple(notes))


@contextmanager
def _opened(path: Path) -> Iterator[PIL.Image.Image]:
    """`path` opened by Pillow; whatever fails is a DataError naming the file, an image of more
    pixels than Pillow's decompression-bomb limit among them, refused before it is decoded (a
    few hundred KB of PNG can hold gigabytes of pixels)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with open_regular(path, DataError, "image") as f, Image.open(f) as image:
                yield image
        except (OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise DataError(f"{path}: {_reason(exc)}") from None


def decode_image(path: Path, grey: bool, size: tuple[int, int]) -> np.ndarray:
    """One image as (C, H, W) uint8, in the chosen colour and resized to `size` (width, height)."""
    from PIL import Image

    with _opened(path) as image:
        image = image.convert("L" if grey else "RGB")
        if image.size != size:
            image = image.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(image)
    return pixels[None] if grey else pixels.transpose(2, 0, 1)


def _reason(exc: BaseException) -> str:
    """Why a file was skipped, in a few words (Pillow's own messages repeat the file object)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not an image Pillow can read"
    if isinstance(exc, Image.DecompressionBombWarning | Image.DecompressionBombError):
        return f"more than the {Image.MAX_IMAGE_PIXELS:,} pixels Pillow decodes safely"
    if isinstance(exc, DataError):
        return clip(str(exc).split(": ", 1)[-1], 80)
    return clip(exc, 80)
