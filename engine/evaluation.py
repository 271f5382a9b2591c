"""What a network gets right and wrong on a test split: the confusion matrix, per-class metrics,
and the images behind each cell, the most confident mistakes first.

Everything is computed from one pass's class probabilities and the true labels, so the CLI, the
window and a notebook share the numbers and never predict twice."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The confusion matrix is printed, or drawn in the window, for at most this many classes
#: (CIFAR-100's): beyond, its rows overflow a screen, and the window's table of a cell per pair
#: of classes froze the window for thousands of classes. A CSV file holds it whole.
MAX_SHOWN_CLASSES = 100


def matrix_not_shown(classes: int) -> str:
    """Why the confusion matrix of `classes` classes is not shown, and where to get it."""
    return (
        f"The confusion matrix is shown for up to {MAX_SHOWN_CLASSES} classes and this network has "
        f"{classes:,}: `convscope evaluate --csv PATH` writes it whole."
    )


def confusion_matrix(y: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """counts[true, predicted], int64."""
    y = np.asarray(y, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    return np.bincount(y * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def row_normalised(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its total: the share of a true class given each label. A class with
    no test images has a row of zeros (as scikit-learn's ``normalize="true"``)."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)


@dataclass(frozen=True)
class ClassMetrics:
    """Per class, one-vs-rest. NaN where a ratio has nothing to count (precision of a class never
    predicted, recall of a class with no test images)."""

    #: Of the images labelled this class, the share that are.
    precision: np.ndarray
    #: Of the images of this class, the share labelled so (the "per-class accuracy" of a report).
    recall: np.ndarray
    #: Of all images, the share whose "this class or not?" answer is right: (TP + TN) / N.
    accuracy: np.ndarray
    #: Test images of each class.
    support: np.ndarray


def class_metrics(counts: np.ndarray) -> ClassMetrics:
    counts = np.asarray(counts, dtype=np.int64)
    right = np.diag(counts).astype(np.float64)
    labelled, actual, total = counts.sum(axis=0), counts.sum(axis=1), counts.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(labelled > 0, right / labelled, np.nan)
        recall = np.where(actual > 0, right / actual, np.nan)
    true_negatives = total - labelled - actual + right
    accuracy = (right + true_negatives) / total if total else np.full(len(counts), np.nan)
    return ClassMetrics(precision, recall, accuracy, actual)


def cell_images(y: np.ndarray, probabilities: np.ndarray, true: int, predicted: int) -> np.ndarray:
    """Indices of the images of class `true` labelled `predicted`, the most confident first (by
    the probability given to `predicted`; ties in index order): off the diagonal, the most
    confident mistakes first."""
    labels = probabilities.argmax(axis=1)
    which = np.flatnonzero((y == true) & (labels == predicted))
    order = np.argsort(-probabilities[which, predicted], kind="stable")
    return which[order]


@dataclass(frozen=True)
class Evaluation:
    """One pass over a test split: the true labels, the class probabilities and the mean loss."""

    y: np.ndarray
    probabilities: np.ndarray
    loss: float

    @property
    def classes(self) -> int:
        return self.probabilities.shape[1]

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.y).mean()) if len(self.y) else float("nan")

    @property
    def counts(self) -> np.ndarray:
        return confusion_matrix(self.y, self.predicted, self.classes)

    def metrics(self) -> ClassMetrics:
        return class_metrics(self.counts)

    def cell(self, true: int, predicted: int) -> np.ndarray:
        return cell_images(self.y, self.probabilities, true, predicted)


def evaluate(net: Any, data: Any, threads: int | None = None) -> Evaluation:
    """`net` (a :class:`engine.Network`) on an (x, y) pair or a data set's test split."""
    probabilities, y, loss = net.probabilities_and_loss(data, threads=threads)
    return Evaluation(np.asarray(y, dtype=np.int64), probabilities, loss)


def class_names(names: Any, classes: int) -> list[str]:
    """`names` as text, the classes beyond them named by their number."""
    names = [str(n) for n in names][:classes]
    return names + [str(i) for i in range(len(names), classes)]


def percent(value: float) -> str:
    """A ratio as '91.20%', or '—' where it has nothing to count (NaN)."""
    return "—" if np.isnan(value) else f"{value:.2%}"


def _ratio(value: float) -> str:
    return percent(value).rjust(7)


def accuracy_line(result: Evaluation) -> str:
    """'accuracy: 91.20% (912/1,000), loss 0.3012'."""
    right, total = int((result.predicted == result.y).sum()), len(result.y)
    return f"accuracy: {result.accuracy:.2%} ({right:,}/{total:,}), loss {result.loss:.4f}"


def summary_lines(result: Evaluation, names: list[str]) -> list[str]:
    """Accuracy, loss and the per-class table, as `convscope evaluate` prints them and the
    window's Evaluate shows them: one owner, so both give the same figures for the same file."""
    metrics = result.metrics()
    width = max(len("class"), *(len(n) for n in names))
    lines = [
        accuracy_line(result),
        "per class (recall is the class's own accuracy; accuracy counts its yes/no answers):",
        f"  {'class'.rjust(width)}  precision   recall  accuracy  images",
    ]
    for i, name in enumerate(names):
        lines.append(
            f"  {name.rjust(width)}    {_ratio(metrics.precision[i])}  {_ratio(metrics.recall[i])}"
            f"   {_ratio(metrics.accuracy[i])}  {int(metrics.support[i]):6,}"
        )
    return lines


def confusion_text(counts: np.ndarray, names: list[str]) -> str:
    """The matrix as aligned columns, a row per true class, headed by the class names."""
    width = max(max(len(n) for n in names), len(str(counts.max())))
    lines = [" " * width + "  " + " ".join(n.rjust(width) for n in names)]
    for name, row in zip(names, counts, strict=True):
        lines.append(name.rjust(width) + "  " + " ".join(str(c).rjust(width) for c in row))
    return "\n".join(lines)


def confusion_csv(counts: np.ndarray, names: list[str]) -> str:
    """The matrix as CSV: a header of predicted class names, then a row per true class. Class
    names come from data files: one that a spreadsheet would run as a formula gets a leading '."""
    names = ["'" + n if n[:1] in ("=", "+", "-", "@", "\t", "\r") else n for n in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["true \\ predicted", *names])
    for name, row in zip(names, counts, strict=True):
        writer.writerow([name, *(int(c) for c in row)])
    return out.getvalue()
