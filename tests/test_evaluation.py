"""The confusion matrix and per-class metrics, checked against scikit-learn and by hand; a cell's
images, the most confident mistakes first; `convscope evaluate` printing and writing them."""

import csv
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from engine import Network, evaluation, load_dataset
from engine.cli import main
from engine.weights import save

#: Like test_cli's TINY: small enough to evaluate in a moment.
TINY = {
    "input": [1, 28, 28],
    "classes": 10,
    "layers": [{"type": "conv", "filters": 4, "kernel": 5}, {"type": "pool", "size": 2}, {"type": "softmax"}],
}


@st.composite
def labelled(draw):
    classes = draw(st.integers(1, 6))
    n = draw(st.integers(1, 60))
    label = st.integers(0, classes - 1)
    y = np.array(draw(st.lists(label, min_size=n, max_size=n)))
    pred = np.array(draw(st.lists(label, min_size=n, max_size=n)))
    return classes, y, pred


@pytest.mark.filterwarnings("ignore:A single label was found")  # labels= is given
@settings(max_examples=60, deadline=None)
@given(labelled())
def test_confusion_matrix_counts_and_rows_match_scikit_learn(case):
    classes, y, pred = case
    counts = evaluation.confusion_matrix(y, pred, classes)
    np.testing.assert_array_equal(counts, sk.confusion_matrix(y, pred, labels=range(classes)))
    np.testing.assert_allclose(
        evaluation.row_normalised(counts),
        sk.confusion_matrix(y, pred, labels=range(classes), normalize="true"),
    )


@settings(max_examples=60, deadline=None)
@given(labelled())
def test_precision_and_recall_match_scikit_learn(case):
    classes, y, pred = case
    got = evaluation.class_metrics(evaluation.confusion_matrix(y, pred, classes))
    precision, recall, _, support = sk.precision_recall_fscore_support(
        y, pred, labels=range(classes), zero_division=np.nan
    )
    np.testing.assert_allclose(got.precision, precision, equal_nan=True)
    np.testing.assert_allclose(got.recall, recall, equal_nan=True)
    np.testing.assert_array_equal(got.support, support)


def test_per_class_metrics_on_a_hand_made_example():
    # true 0 0 0 1 1 2 ; predicted 0 0 1 1 0 0 ; class 3 neither occurs nor is predicted
    counts = evaluation.confusion_matrix(np.array([0, 0, 0, 1, 1, 2]), np.array([0, 0, 1, 1, 0, 0]), 4)
    np.testing.assert_array_equal(counts, [[2, 1, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    m = evaluation.class_metrics(counts)
    nan = np.nan
    np.testing.assert_allclose(m.precision, [2 / 4, 1 / 2, nan, nan], equal_nan=True)
    np.testing.assert_allclose(m.recall, [2 / 3, 1 / 2, 0, nan], equal_nan=True)
    # class 0: TP 2, TN 1 (the true-1 image labelled 1); class 1: TP 1, TN 3; class 2: TN 5 of 6
    np.testing.assert_allclose(m.accuracy, [3 / 6, 4 / 6, 5 / 6, 6 / 6])
    np.testing.assert_array_equal(m.support, [3, 2, 1, 0])
    np.testing.assert_allclose(evaluation.row_normalised(counts)[0], [2 / 3, 1 / 3, 0, 0])
    np.testing.assert_array_equal(evaluation.row_normalised(counts)[3], [0, 0, 0, 0])


def test_a_cell_lists_its_images_most_confident_mistake_first():
    y = np.array([1, 1, 1, 1, 0])
    probabilities = np.array(
        [[0.6, 0.4], [0.9, 0.1], [0.3, 0.7], [0.75, 0.25], [0.8, 0.2]]  # true 1 labelled 0: 0, 1, 3
    )
    result = evaluation.Evaluation(y, probabilities, loss=0.0)
    np.testing.assert_array_equal(result.cell(1, 0), [1, 3, 0])
    np.testing.assert_array_equal(result.cell(1, 1), [2])
    np.testing.assert_array_equal(result.cell(0, 1), [])
    assert result.accuracy == pytest.approx(2 / 5)
    np.testing.assert_array_equal(result.counts, [[1, 0], [3, 1]])


def test_evaluate_gives_the_networks_loss_and_accuracy_from_one_pass():
    data = load_dataset()
    net = Network(TINY, seed=1)
    result = evaluation.evaluate(net, data)
    loss, accuracy = net.evaluate(data)
    assert result.loss == pytest.approx(loss) and result.accuracy == pytest.approx(accuracy)
    assert result.counts.sum() == len(data.test.y) == len(result.y)
    np.testing.assert_array_equal(result.predicted, net.predict(data.test.x))


def test_csv_guards_class_names_a_spreadsheet_would_run():
    text = evaluation.confusion_csv(np.array([[1, 2], [3, 4]]), ["=cmd()", "cat"])
    rows = list(csv.reader(text.splitlines()))
    assert rows == [["true \\ predicted", "'=cmd()", "cat"], ["'=cmd()", "1", "2"], ["cat", "3", "4"]]


def test_evaluate_prints_the_metrics_and_writes_the_matrix_as_csv(tmp_path, capsys):
    model, table = tmp_path / "m.safetensors", tmp_path / "confusion.csv"
    net = Network(TINY, seed=2)
    save(net, model, dataset=load_dataset())
    assert main(["evaluate", str(model), "--device", "cpu", "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    expected = evaluation.evaluate(net, load_dataset())
    rows = list(csv.reader(table.read_text().splitlines()))
    assert rows[0] == ["true \\ predicted", *map(str, range(10))]
    np.testing.assert_array_equal(np.array([r[1:] for r in rows[1:]], dtype=int), expected.counts)
    printed = out.split("columns: predicted):\n")[1].splitlines()[1:11]
    np.testing.assert_array_equal([[int(v) for v in r.split()[1:]] for r in printed], expected.counts)
    metrics = expected.metrics()
    i = int(np.nanargmax(metrics.precision))  # an untrained network labels few classes
    line = next(r for r in out.splitlines() if r.split()[:1] == [str(i)] and "%" in r)
    assert f"{metrics.precision[i]:.2%}" in line and f"{metrics.recall[i]:.2%}" in line
    assert f"wrote {table}" in out


def test_evaluate_prints_no_matrix_beyond_a_hundred_classes_and_says_where_it_is(tmp_path, capsys):
    """A network of 1,500 classes had `convscope evaluate` print 11 MB: 1,500 rows of 1,500 counts."""
    classes = evaluation.MAX_SHOWN_CLASSES + 1
    rng = np.random.default_rng(0)
    data = tmp_path / "many.npz"
    np.savez(data, x=rng.random((2 * classes, 4, 4), dtype=np.float32), y=np.arange(2 * classes) % classes)
    model = tmp_path / "m.safetensors"
    spec = {"input": [1, 4, 4], "classes": classes, "layers": [{"type": "softmax"}]}
    save(Network(spec, seed=0), model, dataset=load_dataset(data))
    assert main(["evaluate", str(model), "--data", str(data), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "confusion matrix (rows" not in out and len(out.splitlines()) < classes + 12
    assert out.rstrip().endswith(evaluation.matrix_not_shown(classes))
    assert "`convscope evaluate --csv PATH` writes it whole" in evaluation.matrix_not_shown(classes)


@pytest.mark.parametrize("names", [list("0123456789"), ["airplane", "cat"]])
def test_the_per_class_table_is_aligned_under_its_headings(names):
    result = evaluation.Evaluation(np.arange(len(names)), np.eye(len(names)), loss=0.0)
    header, *rows = evaluation.summary_lines(result, names)[2:]

    def right_ends(line: str) -> list[int]:
        return [m.end() for m in re.finditer(r"\S+", line)]

    for row in rows:
        assert right_ends(row) == right_ends(header), (header, row)


def test_evaluate_checks_the_csv_path_before_loading_anything(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "engine", "evaluate", str(tmp_path / "missing.safetensors"),
         "--csv", str(tmp_path / "no" / "such" / "folder.csv")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert "folder.csv: cannot be written, the folder" in result.stderr
    assert "missing.safetensors" not in result.stderr
