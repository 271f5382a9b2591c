"""The application's state and what a user can do to it, without Qt.

A `Session` owns the data set, the network and its layer ids, the optimizer the next run continues,
the weight file and whether the weights changed since it, and the run history. Each operation
either changes the state and returns a notice the window can show, or raises a
:class:`ConvScopeError` and leaves the state as it was. The window observes the session's events
and renders it, as napari's Qt window observes its `ViewerModel`; nothing here knows the window.

While a run trains, the network and the optimizer belong to the training thread: every operation
that would touch them refuses (:meth:`Session.start_run` hands them out, :meth:`finish_run` takes
them back)."""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine import Backend, ConvScopeError, Dataset, EpochInfo, History, Network, evaluation, load_dataset
from engine import weights as weight_files
from engine.errors import DataError, LimitError, WeightFileError
from engine.evaluation import Evaluation
from engine.optim import Optimizer
from engine.recipe import Recipe
from engine.runs import RunRecord, default_name, load_runs, save_run
from engine.spec import default_spec_for, load_spec, save_spec, shape_text, validate
from engine.training import Callback, TrainingControl, fit, fit_problem
from engine.wording import plural
from gui.edit_history import EditHistory, NetworkState
from gui.snapshot import Snapshot, take_snapshot
from gui.timelapse import TimeLapse, sidecar_path

BUILTIN = "mnist-5k"
#: Test images an ONNX export is checked on: enough to meet every layer, a second's work.
EXPORT_CHECK_IMAGES = 32


class Busy(ConvScopeError):
    """An operation that needs the network while a run is training it."""


class Event:
    """Callbacks called in order with the event's arguments; the whole of the observer pattern
    the window needs (Qt's signals would tie the session to Qt)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


@dataclass
class Events:
    #: The network or its weights changed (edit, reset, device, file): redraw what shows it.
    network: Event = field(default_factory=Event)
    #: A new data set: its images, names and sizes.
    dataset: Event = field(default_factory=Event)
    #: The weight file or the dirty flag changed: the title.
    weights_file: Event = field(default_factory=Event)
    #: The run history was cleared, or a run began at `start_epoch` (args: start, horizon).
    history: Event = field(default_factory=Event)
    #: The optimizer the next run continues was replaced by one from a file (arg: optimizer).
    optimizer: Event = field(default_factory=Event)
    #: A finished run was stored in the runs folder, or could not be (arg: a notice).
    runs: Event = field(default_factory=Event)
    #: The input the views show changed: another test image, or the user's own.
    input: Event = field(default_factory=Event)
    #: The test split was scored anew, or its scores went stale (arg: :class:`Scored` or None).
    scored: Event = field(default_factory=Event)
    #: The time-lapse was replaced: a new one, one read from a weight file's sidecar, or none.
    timelapse: Event = field(default_factory=Event)


@dataclass
class RunHistory:
    """What the runs on this network reported: every epoch's scores, and where the last began."""

    epochs: list[EpochInfo] = field(default_factory=list)
    start_epoch: int = 0
    epochs_planned: int = 0


@dataclass(frozen=True)
class Scored:
    """The latest pass over the test split and when it was made, for the analysis views."""

    evaluation: Evaluation
    #: "after epoch 3 of 10" (a run's epoch-end validation) or "of the current weights".
    when: str


@dataclass(frozen=True)
class EvaluationInput:
    """What an evaluation on another thread takes: a copy of the network, the data set, and
    which weights it copied (:meth:`Session.evaluated` compares them)."""

    net: Network
    dataset: Dataset
    weights_version: int


@dataclass(frozen=True)
class Run:
    """What a training run takes from the session until :meth:`Session.finish_run`."""

    net: Network
    dataset: Dataset
    config: Recipe
    optimizer: Optimizer
    #: Takes the run's time-lapse frames: a callback for the training loop.
    timelapse: TimeLapse

    def train(self, callbacks: Sequence[Callback] = (), control: TrainingControl | None = None) -> History:
        """Train as the recipe says (its augmentation included), validating on the test split;
        the time-lapse takes its frames after `callbacks`. The training thread calls this."""
        c = self.config
        train = c.augment.training_images(*self.dataset.train)
        return fit(
            self.net, train, epochs=c.epochs, batch_size=c.batch_size, optimizer=self.optimizer,
            validation=self.dataset.test, callbacks=[*callbacks, self.timelapse], schedule=c.schedule,
            control=control, threads=c.threads, augment=c.augment,
        )


_ids = itertools.count()


def new_ids(count: int) -> list[int]:
    """Layer ids never used before, for a network that arrives whole (from a file or a reset)."""
    return [next(_ids) for _ in range(count)]


def _layers(net: Network, indices: list[int]) -> str:
    """ "layer 2 (dense)", "layers 2 (dense) and 3 (softmax)": the editor's numbering."""
    names = [f"{i} ({net.infos[i].type})" for i in indices]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{'layer' if len(names) == 1 else 'layers'} {listed}"


def carried_over(net: Network, reset: list[int]) -> str:
    """Which of `net`'s layers with weights were re-initialised and which kept what they learned."""
    learned = [info.index for info in net.infos if info.params]
    kept = [i for i in learned if i not in reset]
    parts = []
    if reset:
        their = "its" if len(reset) == 1 else "their"
        parts.append(f"Re-initialised {_layers(net, reset)}: the change altered {their} weight shapes")
    if kept:
        parts.append(f"{_layers(net, kept)} kept what {'it' if len(kept) == 1 else 'they'} learned")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def keeps_any(net: Network, reset: list[int]) -> bool:
    """Whether any of `net`'s layers with weights kept its weights when `reset` were re-initialised."""
    return len(reset) < sum(1 for info in net.infos if info.params)


@dataclass(frozen=True)
class LoadOptions:
    """How to read a data set: a folder of images' size and colour
    (:func:`engine.image_folder.read_image_folder`), and how an ``.npz`` stores its images."""

    #: (height, width) every image is resized to; None: the most common size.
    image_size: tuple[int, int] | None = None
    #: "auto" (grey unless an image has colour), "grey" or "rgb".
    colour: str = "auto"
    #: "auto" (from the shape), "nchw" or "nhwc": an ``.npz``'s 4-D images (engine.data.LAYOUTS).
    layout: str = "auto"


def load_data(
    source: str,
    options: LoadOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Dataset:
    """The data set at `source`, as the session loads every one. It touches no session, so it may
    run on a thread of its own: `progress(done, total)` reports images (or CIFAR files) read, and
    once `cancelled()` is true the load stops with :class:`engine.errors.LoadCancelled`."""
    options = options or LoadOptions()
    return load_dataset(
        source, image_size=options.image_size, colour=options.colour, layout=options.layout,
        progress=progress, cancelled=cancelled,
    )


def build(spec: dict[str, Any], *, seed: int, init: str, device: str | Backend) -> Network:
    """Every network the session builds comes from here, so each path refuses the same way: a
    bad spec, a network over the memory limits, a device that does not work, or memory running
    out while the arrays are made, all as a :class:`ConvScopeError`."""
    try:
        return Network(spec, seed=seed, device=device, init=init)
    except MemoryError:
        raise LimitError("the machine ran out of memory building this network; make it smaller") from None


class Session:
    """See the module's docstring. `recipe` gives the network's seed and init; `device` where
    it lives; each run that trains to its end is stored in `runs_folder` (None: not stored)."""

    def __init__(
        self,
        dataset: Dataset,
        recipe: Recipe,
        device: str | Backend = "auto",
        runs_folder: str | os.PathLike[str] | None = None,
    ):
        self.events = Events()
        self.runs_folder = runs_folder
        self._dataset = dataset
        self._spec = default_spec_for(dataset.input_shape, dataset.classes)
        self._net = build(self._spec, seed=recipe.seed, init=recipe.init, device=device)
        self._layer_ids = new_ids(len(self._net.infos))
        self._optimizer: Optimizer | None = None
        self._weights_path: str | None = None
        self._dirty = False
        self._trained = False
        self._history = RunHistory()
        self._run: Run | None = None
        self._edits = EditHistory()
        self._timelapse: TimeLapse | None = None
        self._sample_index = 0
        self._own_image: np.ndarray | None = None
        self._snapshot: Snapshot | None = None
        self._scored: Scored | None = None
        #: Counts the weights' changes, so scores worked out elsewhere can tell they are stale.
        self._weights_version = 0

    # -- what the window reads -----------------------------------------------------------------

    @property
    def dataset(self) -> Dataset:
        return self._dataset

    @property
    def net(self) -> Network:
        return self._net

    @property
    def spec(self) -> dict[str, Any]:
        """The network's spec as the user or the file wrote it (`net.spec` fills in defaults)."""
        return copy.deepcopy(self._spec)

    @property
    def layer_ids(self) -> list[int]:
        return list(self._layer_ids)

    @property
    def optimizer(self) -> Optimizer | None:
        """The optimizer the next run continues (its momentum or moments), or None for a new one."""
        return self._optimizer

    @property
    def weights_path(self) -> str | None:
        return self._weights_path

    @property
    def dirty(self) -> bool:
        """Whether the weights changed since they were last opened or saved."""
        return self._dirty

    @property
    def trained(self) -> bool:
        """Whether the network holds anything learned (so an edit that loses some says so)."""
        return self._trained

    @property
    def unsaved(self) -> bool:
        """Whether closing or replacing the network would lose trained weights not in a file."""
        return self._dirty and self._trained

    @property
    def epochs_trained(self) -> int:
        """Epochs the network has trained (in this session or before its file was saved)."""
        return int(self._net.metadata.get("epochs", 0))

    @property
    def can_undo(self) -> bool:
        return self._edits.can_undo

    @property
    def can_redo(self) -> bool:
        return self._edits.can_redo

    @property
    def history(self) -> RunHistory:
        return self._history

    @property
    def timelapse(self) -> TimeLapse | None:
        """The frames of this network's runs, from its runs here or its weight file's sidecar."""
        return self._timelapse

    @property
    def running(self) -> bool:
        return self._run is not None

    @property
    def scored(self) -> Scored | None:
        """The network's latest scores on the test split, None once its weights changed since."""
        return self._scored

    def _set_scored(self, scored: Scored | None) -> None:
        """The latest scores; None: the weights changed, so the scores so far are stale."""
        if scored is None:
            self._weights_version += 1
            if self._scored is None:
                return
        self._scored = scored
        self.events.scored.emit(scored)

    # -- the network ---------------------------------------------------------------------------

    def _idle(self) -> None:
        if self._run is not None:
            raise Busy("a training run is using the network; stop it first")

    def _replace(
        self,
        net: Network,
        ids: list[int],
        *,
        path: str | None,
        dirty: bool,
        spec: dict[str, Any] | None = None,
    ) -> str:
        """Make `net` the session's network, its weights from the file at `path` (None: from no
        file). Returns a sentence for the notice when the weights stop being a file's, since
        the title no longer names it and Save then asks where to write."""
        left = self._weights_path if self._weights_path and self._weights_path != path else None
        self._net, self._layer_ids = net, list(ids)
        self._spec = copy.deepcopy(net.spec if spec is None else spec)
        self._snapshot = None
        self._weights_path = path
        self._set_dirty(dirty)
        self._set_scored(None)
        self.events.network.emit()
        if left is None or path is not None:
            return ""
        return f" The weights are no longer those of {os.path.basename(left)}: Save asks for a file."

    def _set_dirty(self, dirty: bool) -> None:
        self._dirty = dirty
        self.events.weights_file.emit()

    def _clear_history(self) -> None:
        self._history = RunHistory()
        self._set_timelapse(None)
        self.events.history.emit(None, None)

    def _set_timelapse(self, timelapse: TimeLapse | None) -> None:
        self._timelapse = timelapse
        self.events.timelapse.emit()

    def _carry(self, spec: dict[str, Any], ids: list[int]) -> tuple[Network, list[int]]:
        """A network built from `spec` whose layers take the current layers' weights where the
        `ids` match and the shapes fit; also the layers with weights that start afresh."""
        old = self._net
        new = build(spec, seed=old.seed, init=old.init, device=old.backend)
        old_index = {layer_id: i for i, layer_id in enumerate(self._layer_ids)}
        sources = {i: old_index[layer_id] for i, layer_id in enumerate(ids) if layer_id in old_index}
        return new, new.take_weights(old, sources)

    def _state(self) -> NetworkState:
        return NetworkState(
            self._net, copy.deepcopy(self._spec), list(self._layer_ids), self._trained, self._weights_path
        )

    def _restore(self, state: NetworkState) -> str:
        """Back to `state`, named by its file again; unsaved, since that file may hold other
        weights by now."""
        self._trained = state.trained
        self._optimizer = None
        self._set_timelapse(None)
        return self._replace(state.net, state.ids, path=state.path, dirty=True, spec=state.spec)

    def edit(self, spec: dict[str, Any], ids: list[int]) -> str | None:
        """Rebuild the network from an edited spec. Layer `ids` say which layer is which: a
        layer keeps what it learned while its id is the same and its weights' shapes still fit.
        Undo gives back the network the edit replaced."""
        self._idle()
        new, reset = self._carry(spec, ids)
        kept = keeps_any(new, reset)
        notice = carried_over(new, reset) if self._trained and reset else ""
        self._edits.push(self._state())
        self._trained = self._trained and kept
        self._optimizer = None
        self._set_timelapse(None)  # its frames show layers that may be gone
        notice += self._replace(new, ids, path=self._weights_path if kept else None, dirty=True, spec=spec)
        return notice.strip() or None

    def undo(self) -> str:
        """Back to the network before the last edit, with the weights it had then."""
        self._idle()
        if not self._edits.can_undo:
            raise ConvScopeError("there is no network edit to undo")
        left = self._restore(self._edits.undo(self._state()))
        return "Undid the last network edit; the network has its weights from before it." + left

    def redo(self) -> str:
        """The network the last undo took back, with its weights."""
        self._idle()
        if not self._edits.can_redo:
            raise ConvScopeError("there is no undone network edit to redo")
        left = self._restore(self._edits.redo(self._state()))
        return "Redid the network edit." + left

    def restore_default(self) -> str:
        """The default network for the data set, with fresh weights; an edit that Undo reverts."""
        self._idle()
        old = self._net
        spec = default_spec_for(self._dataset.input_shape, self._dataset.classes)
        new = build(spec, seed=old.seed, init=old.init, device=old.backend)
        self._edits.push(self._state())
        self._trained = False
        self._optimizer = None
        self._set_timelapse(None)  # its frames show the replaced network
        left = self._replace(new, new_ids(len(new.infos)), path=None, dirty=True, spec=spec)
        return "Restored the default network with fresh weights (Undo brings back the previous one)." + left

    def _copy(self, device: str | Backend) -> Network:
        """The network on `device` with arrays of its own: the same weights and metadata."""
        old = self._net
        new = build(old.spec, seed=old.seed, init=old.init, device=device)
        new.load_state_dict(old.state_dict())
        new.metadata = copy.deepcopy(old.metadata)
        return new

    def change_device(self, device: str) -> str:
        """Move the network, weights and all, to `device`."""
        self._idle()
        new = self._copy(device)
        self._optimizer = None
        self._edits.clear()
        self._replace(new, self._layer_ids, path=self._weights_path, dirty=self._dirty, spec=self._spec)
        return f"The network now lives on {new.backend.description}."

    def reset(self, recipe: Recipe) -> str:
        """New initial weights from the recipe's seed and init; the run history goes too."""
        self._idle()
        old = self._net
        new = build(old.spec, seed=recipe.seed, init=recipe.init, device=old.backend)
        self._optimizer = None
        self._trained = False
        self._edits.clear()
        self._clear_history()
        left = self._replace(new, self._layer_ids, path=None, dirty=True, spec=self._spec)
        return f"Weights re-initialised from seed {recipe.seed}.{left}"

    # -- files ---------------------------------------------------------------------------------

    def _adopt(self, net: Network, path: str | None) -> str:
        """A network from a file (its weights from the weight file at `path`, or fresh ones from
        a network file): new layer ids, so nothing is carried over to it."""
        self._edits.clear()
        self._clear_history()
        return self._replace(net, new_ids(len(net.infos)), path=path, dirty=path is None)

    def open_weights(self, path: str) -> str:
        """The network, weights and optimizer state in a weight file; the next run continues it."""
        self._idle()
        net, optimizer = weight_files.load_with_optimizer(path, device=self._net.backend)
        problem = fit_problem(net, self._dataset, exact_classes=True)
        if problem:
            raise DataError(f"{path}: {problem}")
        try:
            timelapse, lapse_notice = TimeLapse.load(path, net, self._dataset.test.x), ""
        except WeightFileError as exc:
            timelapse, lapse_notice = None, f" Its time-lapse was not loaded: {exc}"
        self._trained = True
        self._optimizer = optimizer
        self._adopt(net, path)
        self._set_timelapse(timelapse)
        if optimizer is not None:
            self.events.optimizer.emit(optimizer)
        kept = f" and its {optimizer.name} state, which Train continues" if optimizer is not None else ""
        return f"Loaded {os.path.basename(path)}{kept}.{lapse_notice}"

    def save_weights(self, path: str | None = None) -> str:
        """Write the weights (and the optimizer's state) to `path`, or to the file they came from."""
        self._idle()
        path = path or self._weights_path
        if path is None:
            raise ValueError("no weight file to save to: give a path")
        weight_files.save(self._net, path, optimizer=self._optimizer, dataset=self._dataset)
        # What the file now records about the data, as a network opened from it holds it.
        self._net.metadata["dataset"] = weight_files.dataset_info(self._dataset)
        self._weights_path = path
        self._set_dirty(False)
        if self._timelapse is None or not self._timelapse.frames:
            try:  # a time-lapse beside the file was the replaced weights'
                sidecar_path(path).unlink(missing_ok=True)
            except OSError as exc:
                return f"Saved the weights to {path}; the replaced weights' time-lapse stays: {exc.strerror}"
            return f"Saved the weights to {path}."
        try:
            sidecar = self._timelapse.save(path)
        except WeightFileError as exc:
            return f"Saved the weights to {path}, but not their time-lapse: {exc}"
        return f"Saved the weights to {path} and their time-lapse to {os.path.basename(sidecar)}."

    def open_network(self, path: str, recipe: Recipe) -> str:
        """A network (layers only) from JSON, with fresh weights from the recipe."""
        self._idle()
        net = build(load_spec(path), seed=recipe.seed, init=recipe.init, device=self._net.backend)
        problem = fit_problem(net, self._dataset, exact_classes=True)
        if problem:
            raise DataError(f"{path}: {problem}")
        self._trained = False
        self._optimizer = None
        left = self._adopt(net, None)
        return f"Loaded {os.path.basename(path)}.{left}"

    def export(self, path: str) -> str:
        """Write the network for another runtime, as `path`'s suffix says: `.onnx`, then checked
        in ONNX's reference runtime against this network on test images, or `.py`, PyTorch source
        whose `load()` reads the weight file, so the weights must be saved in one first."""
        from engine.export import export_network  # not before the window is shown: it waits for it
        from engine.onnx_export import check_onnx

        self._idle()
        suffix = os.path.splitext(path)[1].lower()
        if suffix == ".onnx":
            export_network(self._net, onnx=path)
            images = self._dataset.test.x[:EXPORT_CHECK_IMAGES]
            difference = check_onnx(self._net, path, images)
            agreement = f"to within {difference:.1g}" if difference else "exactly"  # not "to within 0"
            return (
                f"Exported the network to {path}; ONNX's reference runtime gives its probabilities "
                f"on {len(images):,} test images {agreement}."
            )
        if suffix != ".py":
            raise ConvScopeError(f"{path}: export to an .onnx file (ONNX) or a .py file (PyTorch source)")
        if self._weights_path is None or self._dirty:
            raise ConvScopeError(
                "The PyTorch module reads its weights from the weight file: save the weights "
                "(File > Save Weights) first, then export."
            )
        export_network(self._net, torch=path, weights=self._weights_path)
        return f"Exported the network to {path}; its load() reads {os.path.basename(self._weights_path)}."

    @staticmethod
    def save_network(spec: dict[str, Any], path: str) -> str:
        save_spec(spec, path)
        return f"Saved the network to {path}."

    def open_dataset(
        self, source: str, spec: dict[str, Any], ids: list[int], options: LoadOptions | None = None
    ) -> str:
        """Load a data set (:func:`load_data`) and :meth:`use_dataset` it."""
        self._idle()
        return self.use_dataset(load_data(source, options), spec, ids)

    def use_dataset(self, dataset: Dataset, spec: dict[str, Any], ids: list[int]) -> str:
        """Fit the network's input and output to a loaded data set (the edited `spec`, with its
        layer `ids`), keeping what still fits. A new data set starts a new run: the history and
        the epoch count start again. The notice says what loading decided (the colour and size
        read, the files skipped) and which layers kept their weights."""
        self._idle()
        fitted = {**spec, "input": list(dataset.input_shape), "classes": dataset.classes}
        problems = validate(fitted)
        if problems:
            raise DataError(
                f"The network does not fit {dataset.name}'s {shape_text(dataset.input_shape)} images:\n"
                + "\n".join(problems)
            )
        new, reset = self._carry(fitted, ids)
        new.metadata = {}  # epochs and scores on the old data set do not describe this one
        kept = keeps_any(new, reset)
        carried = f" {carried_over(new, reset)}" if self._trained else ""
        self._dataset = dataset
        self._sample_index = min(self._sample_index, len(dataset.test.x) - 1)
        self._own_image = None  # drawn for the old input shape; the dock prepares it again
        self._trained = self._trained and kept
        self._optimizer = None
        self._edits.clear()
        self._clear_history()
        self.events.dataset.emit()
        left = self._replace(new, ids, path=self._weights_path if kept else None, dirty=True, spec=fitted)
        notes = "".join(f" {note}" for note in dataset.notes)
        return f"Opened the data set {dataset.name}; a new run begins on it.{notes}{carried}{left}"

    # -- the input the views show --------------------------------------------------------------

    @property
    def sample_index(self) -> int:
        """The test image the views show when there is no own image."""
        return self._sample_index

    @property
    def own_image(self) -> np.ndarray | None:
        """The user's own input (C, H, W), drawn or opened, shown in place of the test image."""
        return self._own_image

    def choose_sample(self, index: int) -> None:
        """Show test image `index` (and no own image) in every view."""
        if index == self._sample_index and self._own_image is None:
            return
        if not 0 <= index < len(self._dataset.test.x):
            raise IndexError(f"test image {index + 1} is not one of the {len(self._dataset.test.x)}")
        self._sample_index, self._own_image, self._snapshot = index, None, None
        self.events.input.emit()

    def show_own_image(self, image: np.ndarray | None) -> None:
        """Show the user's own input (C, H, W) in every view (None: the test image again)."""
        if image is None and self._own_image is None:
            return
        if image is not None and tuple(image.shape) != tuple(self._dataset.input_shape):
            wanted = shape_text(self._dataset.input_shape)
            raise DataError(f"an input of {shape_text(image.shape)} does not fit the network's {wanted}")
        self._own_image, self._snapshot = image, None
        self.events.input.emit()

    def snapshot(self) -> Snapshot:
        """What the views draw of the idle network for the shown input: worked out once per
        input and weights (one forward pass), and shared by every view that asks."""
        self._idle()
        if self._snapshot is None:
            test = self._dataset.test.x
            self._snapshot = take_snapshot(self._net, test, self._sample_index, self._own_image)
        return self._snapshot

    # -- training and evaluation ---------------------------------------------------------------

    def start_run(self, config: Recipe, sample_index: int = 0) -> Run:
        """Hand the network and an optimizer to a run of `config`; the session refuses anything
        that would touch them until :meth:`finish_run`. The time-lapse follows test image
        `sample_index`, or the one it followed before (it goes on across runs)."""
        self._idle()
        problem = fit_problem(self._net, self._dataset, exact_classes=True)
        if problem:
            raise DataError(problem)
        start = int(self._net.metadata.get("epochs", 0))
        kept = [e for e in self._history.epochs if e.epoch <= start]
        self._history = RunHistory(kept, start, config.epochs)
        self._optimizer = config.make_optimizer(self._optimizer)
        self._trained = True
        self._set_dirty(True)  # the run changes the weights from its first step
        self._set_scored(None)
        if self._timelapse is None:
            self._set_timelapse(TimeLapse(self._dataset.test.x, sample_index))
        self._run = Run(self._net, self._dataset, config, self._optimizer, self._timelapse)
        self.events.history.emit(start, start + config.epochs)
        return self._run

    def record_epoch(self, info: EpochInfo) -> None:
        """Keep the epoch's scores; its pass over the test split becomes the latest scores (the
        history keeps no probabilities: one array per epoch of a long run adds up)."""
        self._history.epochs.append(replace(info, evaluation=None))
        if info.evaluation is not None:
            self._set_scored(Scored(info.evaluation, f"after epoch {info.epoch} of {info.epochs}"))

    def finish_run(self, history: History | None) -> str:
        """Take the network back from the run; says how the run ended (None: it failed). A run
        that trained to its end is stored in the runs folder."""
        run, self._run = self._run, None
        self._snapshot = None  # the weights moved on
        self._set_dirty(True)  # the run sent its last views itself: nothing else to redraw
        if history is None or history.stopped:
            # The weights are the last good step's or those of a part-trained epoch, not those
            # the last epoch's end scored.
            self._set_scored(None)
            return "stopped" if history is not None else "failed"
        if run is not None and self.runs_folder is not None:
            self.events.runs.emit(self._store(run))
        return "done"

    def _store(self, run: Run) -> str:
        """Store `run` in the runs folder; a notice either way, since a full disk must not turn
        a finished run into a failed one."""
        epochs = [e for e in self._history.epochs if e.epoch > self._history.start_epoch]
        c = run.config
        trained = plural(len(epochs), "epoch")
        details = f", {trained}, {c.optimizer} lr {c.lr:g}, batch {c.batch_size}"
        details += f", {c.augment.describe()}" if c.augment.describe() else ""
        name = default_name(run.dataset.name, details)
        try:
            record = save_run(
                self.runs_folder, run.net, name=name, dataset=run.dataset, settings=c.settings(),
                history=epochs, optimizer=run.optimizer,
            )
        except ConvScopeError as exc:
            return f"The run was not kept: {exc}"
        return f"Kept the run as {record.name!r} in {record.folder.parent}."

    def list_runs(self) -> tuple[list[RunRecord], list[str]]:
        """The stored runs, oldest first, and a message per damaged run folder skipped."""
        return load_runs(self.runs_folder) if self.runs_folder is not None else ([], [])

    def evaluate(self, threads: int | None = None) -> Evaluation:
        """The network on the data set's test split: loss, accuracy, per-class figures and the
        confusion matrix (:mod:`engine.evaluation`), the figures `convscope evaluate` prints.
        They become the latest scores."""
        self._idle()
        result = evaluation.evaluate(self._net, self._dataset, threads=threads)
        self._set_scored(Scored(result, "of the current weights"))
        return result

    def evaluation_input(self) -> EvaluationInput:
        """A copy of the network (arrays of its own, on its device) and the data set, for an
        evaluation on another thread: the session goes on editing, training or replacing its
        network meanwhile, and the copy's figures are those of the network as it is now."""
        self._idle()
        return EvaluationInput(self._copy(self._net.backend), self._dataset, self._weights_version)

    def evaluated(self, result: Evaluation, source: EvaluationInput) -> bool:
        """Take the figures worked out from `source`: the latest scores while the weights are
        still those it copied. Returns whether they are."""
        current = source.weights_version == self._weights_version and source.dataset is self._dataset
        if current:
            self._set_scored(Scored(result, "of the current weights"))
        return current
