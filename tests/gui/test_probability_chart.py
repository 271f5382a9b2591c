"""The predicted probabilities beside the feature maps: class names that never overlap, at 10
classes or at the 10,000 a data set may have, the most probable shown where bars would not fit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gui.probability_chart import TOP, ProbabilityChart, label_step


def _probabilities(classes: int, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(0, 3, classes).astype(np.float32)
    e = np.exp(logits - logits.max())
    return e / e.sum()


def _apart(rects) -> bool:
    return all(a.right() < b.left() for a, b in zip(rects, rects[1:], strict=False))


@pytest.fixture
def chart(shown):
    return shown(ProbabilityChart(), 300, 200)


def test_ten_classes_are_each_named_under_their_bars(chart):
    chart.set_probabilities(_probabilities(10), 3, tuple(map(str, range(10))))
    assert chart.classes == list(range(10))
    labels = chart.label_rects()
    assert [name for _, name in labels] == [str(c) for c in range(10)]
    for (place, _), bar in zip(labels, chart.bar_rects(), strict=True):
        assert abs(place.center().x() - bar.center().x()) < 1


@pytest.mark.parametrize("classes", [100, 1_500, 10_000])
def test_many_classes_leave_their_names_apart_and_whole(chart, classes):
    names = tuple(f"class {c}" for c in range(classes))
    probs = _probabilities(classes)
    true = int(np.argsort(probs)[0])  # the least probable: not among the most probable
    chart.set_probabilities(probs, true, names)
    labels = chart.label_rects()
    assert labels and _apart([place for place, _ in labels])
    assert all(chart.rect().contains(place.toRect()) for place, _ in labels)
    if classes * 4 > chart.plot_rect().width():  # bars too narrow: the most probable alone
        most = np.argsort(-probs, kind="stable")[:TOP].tolist()
        assert chart.classes == [*most, true]
        heights = [rect.height() for rect in chart.bar_rects()]
        assert heights[:TOP] == sorted(heights[:TOP], reverse=True)
    else:
        assert chart.classes == list(range(classes))
    chart.grab()  # draws


@settings(max_examples=60, deadline=None)
@given(pitch=st.floats(0.5, 200), widest=st.floats(1, 400))
def test_the_names_step_is_the_least_round_one_that_keeps_them_apart(pitch, widest):
    step = label_step(pitch, widest)
    assert step * pitch >= widest + 6
    smaller = [s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if s < step]
    assert all(s * pitch < widest + 6 for s in smaller)


def test_the_user_s_own_input_has_no_true_class(chart):
    probs = _probabilities(10)
    chart.set_probabilities(probs, None, tuple("abcdefghij"))
    predicted = "abcdefghij"[int(probs.argmax())]
    assert chart.title == f"predicted <b>{predicted}</b> ({100 * probs.max():.0f}%), <b>your own input</b>"
    assert chart.classes == list(range(10))


@pytest.mark.parametrize("certain", [0.1, 0.6, 1.0])
def test_the_true_mark_stays_in_the_plot_clear_of_the_title_and_the_bars(chart, certain):
    """A certain prediction's bar reaches the plot's top: "true" goes beside it, not into the
    title above (it was drawn over the title's line)."""
    probs = np.full(10, (1 - certain) / 9, dtype=np.float32)
    probs[4] = certain
    chart.set_probabilities(probs, 4, tuple(map(str, range(10))))
    label, plot = chart.true_label_rect(), chart.plot_rect()
    assert plot.contains(label.topLeft()) and plot.contains(label.bottomRight())
    assert not any(label.intersects(bar) for bar in chart.bar_rects())


def test_the_class_under_the_mouse_is_the_bar_drawn_there(chart, qtbot):
    probs = _probabilities(1_500)
    chart.set_probabilities(probs, 3, tuple(f"class {c}" for c in range(1_500)))
    rects = chart.bar_rects()
    hovered = []
    chart.hovered.connect(hovered.append)
    for n in (0, 4, len(rects) - 1):
        qtbot.mouseMove(chart, rects[n].center().toPoint())
    assert hovered == [int(np.argmax(probs)), chart.classes[4], 3]  # the most probable first, the true last
    assert chart.class_at(chart.plot_rect().left() - 1) is None
