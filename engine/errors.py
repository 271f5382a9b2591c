"""The one error family: every failure a user can cause derives from `ConvScopeError`.

The CLI and the window catch this one class to report a bad file, spec or device as a short
message; anything else is a bug and is shown with its traceback. The subclasses keep their
`ValueError`/`RuntimeError` bases for callers that catch those."""

from engine.wording import plural

MAX_MESSAGE_CHARS = 300


class ConvScopeError(Exception):
    """A failure caused by the user's input or machine; the message names the file or field."""


class SpecError(ConvScopeError, ValueError):
    """A spec that cannot build a network; `problems` lists every reason at once (the message
    shows the first few, so a spec with thousands of bad layers still gives a short one)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(listing(self.problems))


class DataError(ConvScopeError, ValueError):
    """A data file cannot be used; the message is written to be shown to the user as it is."""


class AmbiguousLayout(DataError):
    """4-D images whose shape reads both as channels first and as channels last: only the user
    can say which, so the window asks where the command line names its `--layout` option."""

    def __init__(self, readings: str):
        #: The shape and its two readings, without the command line's option.
        self.readings = readings
        super().__init__(f"{readings}; choose one with --layout nchw or --layout nhwc.")


class WeightFileError(ConvScopeError, ValueError):
    """A weight file that cannot be used; the message names the file and says why."""


class OutputPathError(ConvScopeError, ValueError):
    """A file cannot be written where the user asked; checked before any work is done."""


class RunFolderError(ConvScopeError, ValueError):
    """A stored training run that cannot be written or read back (engine/runs.py)."""


class LoadCancelled(ConvScopeError):
    """Loading a data set was cancelled by the user; nothing was loaded."""


class DeviceError(ConvScopeError, RuntimeError):
    """The device asked for cannot be used; the message says why."""


class LimitError(ConvScopeError, ValueError):
    """A network or data set larger than the memory limits allow; the message gives the figure,
    the limit and how to raise it (see :mod:`engine.limits`)."""


class SettingError(ConvScopeError, ValueError):
    """An optimizer setting (learning rate, momentum, L2, Adam's β and ε) out of its range."""


class TrainingDiverged(ConvScopeError, RuntimeError):
    """The loss or a gradient stopped being finite; the weights of the last good step remain."""


def clip(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut to `limit` characters, so a message built from file content stays readable."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({plural(len(text) - limit, 'more character')})"


def listing(items: list[str], limit: int = MAX_MESSAGE_CHARS, sep: str = "; ") -> str:
    """`items` joined while they fit in about `limit` characters, then "… and N more", so a
    message listing problems found in a file stays a line or two however many there are."""
    shown: list[str] = []
    used = 0
    for item in items:
        item = clip(item, limit)
        if shown and used + len(sep) + len(item) > limit:
            break
        shown.append(item)
        used += len(item) + len(sep)
    rest = len(items) - len(shown)
    return sep.join(shown) + (f"{sep}… and {rest:,} more" if rest else "")
