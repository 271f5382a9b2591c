"""The window's views tell a user what they need to read them: Evaluate's figures, the wording
of counts, and the numbering of test images."""

import subprocess
import sys

import pytest

from engine import Network, load_dataset
from engine.recipe import DEFAULT_RECIPE
from engine.spec import default_spec
from engine.weights import save


@pytest.fixture
def builtin_window(qtbot, settings):
    from gui.main_window import MainWindow

    win = MainWindow(settings=settings, dataset=load_dataset())
    qtbot.addWidget(win)
    win.show()
    yield win
    win.trainer.shutdown(2000)


def test_evaluate_shows_the_figures_convscope_evaluate_prints_and_the_files_record(builtin_window, tmp_path):
    win = builtin_window
    path = tmp_path / "model.safetensors"
    net = Network(default_spec(), seed=3, device="cpu")
    net.metadata.update(epochs=2, metrics={"train_acc": 0.5, "train_loss": 1.25, "val_acc": None})
    save(net, path, optimizer=DEFAULT_RECIPE.make_optimizer(None), dataset=win.session.dataset)
    win.open_weights(str(path))
    win.acts.evaluate.trigger()
    shown = win.evaluation_dialog.figures.toPlainText().splitlines()
    printed = subprocess.run(
        [sys.executable, "-m", "engine", "evaluate", str(path), "--device", "cpu"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    start = printed.index(next(line for line in printed if line.startswith("accuracy: ")))
    end = printed.index("confusion matrix (rows: true class, columns: predicted):")
    assert shown[1:] == printed[start:end] and len(shown) == 1 + 3 + 10
    assert shown[0] == "mnist-5k, 1,000 test images"
    stored = win.evaluation_dialog.stored.text()
    assert "model.safetensors: trained 2 epochs on mnist-5k, seed 3" in stored
    assert "last epoch: train accuracy 50.00%, train loss 1.2500" in stored
    assert "optimizer: sgd (lr 0.03, l2 0.0001, momentum 0.9), 0 steps taken" in stored
