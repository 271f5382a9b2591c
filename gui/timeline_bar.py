"""The timeline under the views: a slider over the time-lapse's snapshots (the current run's, or
those saved beside an opened weight file) with "live" at its right end, and a play button.

At a snapshot, the filter and feature-map views show the network as it was then, and the bar
says so in its highlighted caption; live snapshots from a run are held back until the user goes
back to live (the button, or the slider's right end). Anything that redraws the views from the
network (a new network, another test image or the user's own) ends the time-lapse view."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QToolButton, QWidget

from gui.feature_maps_view import FeatureMapsView
from gui.filters_view import FiltersView
from gui.naming import named
from gui.session import Session
from gui.snapshot import Snapshot
from gui.timelapse import caption
from gui.trainer import Trainer

PLAY_MS = 600
LIVE = "Live: the views show the network as it is now"
NONE_YET = "Time-lapse: training keeps snapshots of the network to play back here"
_PINNED_STYLE = "QLabel { background: #fff2c2; padding: 2px 6px; font-weight: bold; }"


class TimelineBar(QWidget):
    def __init__(
        self,
        session: Session,
        trainer: Trainer,
        filters_view: FiltersView,
        feature_maps_view: FeatureMapsView,
        draw: Callable[[Snapshot], None],
    ):
        super().__init__()
        named(self, "timelineBar")
        self.session, self.filters_view, self.feature_maps_view = session, filters_view, feature_maps_view
        self._draw = draw
        #: The snapshot shown, by its index in the time-lapse; None: live.
        self.frame: int | None = None
        self._latest: Snapshot | None = None  # the run's newest live snapshot
        self._moving = False  # the bar itself is changing a view's image or layer
        self.play_button = named(QToolButton(), "timelinePlayButton", "Play the time-lapse", "Play")
        self.play_button.setText("▶")
        self.slider = named(
            QSlider(Qt.Orientation.Horizontal),
            "timelineSlider",
            "Scrub through the snapshots kept while training; the right end is live",
            "Timeline",
        )
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)  # a tick per snapshot
        self.slider.setTickInterval(1)
        self.label = named(QLabel(), "timelineLabel")
        self.live_button = named(
            QPushButton("Back to Live"), "timelineLiveButton", "Show the network as it is now", "Back to live"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 2)
        layout.addWidget(self.label, 3)
        layout.addWidget(self.live_button)
        self._timer = QTimer(self, interval=PLAY_MS)
        self._timer.timeout.connect(self._step)
        self.play_button.clicked.connect(self.toggle_play)
        self.slider.valueChanged.connect(self._scrubbed)
        self.live_button.clicked.connect(self.go_live)
        filters_view.layer_combo.currentIndexChanged.connect(self._layer_picked)
        for event in (session.events.network, session.events.input, session.events.timelapse):
            event.connect(self._redrawn)
        trainer.finished.connect(lambda _: self.refresh())
        self.refresh()

    @property
    def live(self) -> bool:
        return self.frame is None

    @property
    def _frames(self) -> list:
        timelapse = self.session.timelapse
        return [] if timelapse is None else timelapse.frames  # one list: the run may replace it

    def live_snapshot(self, snapshot: Snapshot) -> None:
        """A run's live snapshot: drawn while live, kept for going back to live otherwise."""
        self._latest = snapshot
        if self.live:
            self._draw(snapshot)
        self.refresh()

    def refresh(self) -> None:
        """Fit the slider to the snapshots there are now (a run adds some as it goes)."""
        frames = self._frames
        if self.frame is not None and self.frame >= len(frames):  # thinned to its memory budget
            self.frame = len(frames) - 1 if frames else None
        if self.slider.maximum() != len(frames) or self.live and self.slider.value() != len(frames):
            self.slider.blockSignals(True)
            self.slider.setMaximum(len(frames))
            self.slider.setValue(len(frames) if self.live else min(self.frame, len(frames)))
            self.slider.blockSignals(False)
        wanted = ((self.slider, bool(frames)), (self.play_button, len(frames) > 1))
        for widget, enabled in (*wanted, (self.live_button, not self.live)):
            if widget.isEnabled() != enabled:
                widget.setEnabled(enabled)
        self._caption(frames)

    def _caption(self, frames: list) -> None:
        if self.live:
            text = LIVE if frames else NONE_YET
            tip = self.session.timelapse.describe() if frames else ""
        else:
            history = self.session.history
            planned = history.start_epoch + history.epochs_planned if self.session.running else 0
            epochs = max(planned, math.ceil(frames[-1].position))
            text = f"Snapshot {self.frame + 1} of {len(frames)}: {caption(frames[self.frame], epochs)}"
            tip = "The filters and feature maps show the network as it was then"
        style = "" if self.live else _PINNED_STYLE
        if style != self.label.styleSheet():  # each of these relays the bar out: only when changed
            self.label.setStyleSheet(style)
        if text != self.label.text():
            self.label.setText(text)
        if tip != self.label.toolTip():
            self.label.setToolTip(tip)

    # -- moving along the timeline --------------------------------------------------------------

    def show_frame(self, index: int) -> None:
        """Show the snapshot at `index` in the filter and feature-map views."""
        timelapse = self.session.timelapse
        frame = timelapse.frames[index]
        self.frame = index
        self._moving = True
        try:
            conv = next((info.index for info in self.session.net.infos if info.type == "conv"), None)
            combo = self.filters_view.layer_combo
            if conv is not None and combo.currentData() != conv:
                combo.setCurrentIndex(combo.findData(conv))
            session = self.session
            if session.sample_index != timelapse.sample_index or session.own_image is not None:
                session.choose_sample(timelapse.sample_index)  # the views show that test image
        finally:
            self._moving = False
        self.filters_view.show_kernels({} if frame.filters is None else {conv: frame.filters})
        self.feature_maps_view.show_maps(timelapse.sample_index, frame.maps)
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        self.refresh()

    def go_live(self) -> None:
        """Back to the network as it is now: the run's newest snapshot, or the idle network's."""
        self._stop()
        self.frame = None
        if not self.session.running:
            self._draw(self.session.snapshot())
        elif self._latest is not None:
            self._draw(self._latest)
        self.refresh()

    def _scrubbed(self, value: int) -> None:
        if value >= len(self._frames):
            self.go_live()
        else:
            self.show_frame(value)

    def _layer_picked(self) -> None:
        """The user picked another filter layer: the time-lapse keeps the first conv layer's
        filters only, so the views go back to live."""
        if not self._moving and not self.live:
            self.go_live()

    def _redrawn(self) -> None:
        """The window redraws the views live for a new network or input (another test image,
        the user's own); a replaced time-lapse starts at live too."""
        if self._moving:
            return
        if self.playing:
            self._stop()
        self.frame = None
        self.refresh()

    # -- playing ---------------------------------------------------------------------------------

    def toggle_play(self) -> None:
        if self._timer.isActive():
            self._stop()
            return
        if self.live or self.frame == len(self._frames) - 1:
            self.show_frame(0)
        self._timer.start()
        self.play_button.setText("⏸")
        self.play_button.setToolTip("Pause the time-lapse")

    def _step(self) -> None:
        if self.live or self.frame >= len(self._frames) - 1:
            self._stop()
            return
        self.show_frame(self.frame + 1)
        if self.frame == len(self._frames) - 1:
            self._stop()

    def _stop(self) -> None:
        self._timer.stop()
        self.play_button.setText("▶")
        self.play_button.setToolTip("Play the time-lapse")

    @property
    def playing(self) -> bool:
        return self._timer.isActive()
