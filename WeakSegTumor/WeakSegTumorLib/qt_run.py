"""Shows a background Run in a panel: progress bar with ETA, Cancel, and "copy diagnostics".

The only Qt code around runs: a timer polls the run (no busy loop, no Qt objects touched
from the reader thread), and the panel's widgets show its state. Shared by the three
WeakSeg panels.
"""

from __future__ import annotations

import qt
import slicer
from slicer.i18n import tr as _

POLL_MS = 200


class RunController:
    """Drive ``progressBar``, ``statusLabel``, ``cancelButton`` and ``copyDiagnosticsButton`` for one run at a time."""

    def __init__(self, progress_bar, status_label, cancel_button, diagnostics_button, on_update=None, on_finished=None):
        self.progress_bar = progress_bar
        self.status_label = status_label
        self.cancel_button = cancel_button
        self.diagnostics_button = diagnostics_button
        self.on_update = on_update
        self.on_finished = on_finished
        self.run = None
        self.on_done = None
        self.description = ""
        self.last_diagnostics = ""
        self.timer = qt.QTimer()
        self.timer.setInterval(POLL_MS)
        self.timer.connect("timeout()", self._tick)
        self.cancel_button.connect("clicked()", self.cancel)
        self.diagnostics_button.connect("clicked()", self.copy_diagnostics)
        self.progress_bar.setVisible(False)

    @property
    def busy(self) -> bool:
        return self.run is not None

    def start(self, run, description: str, on_done) -> None:
        self.run, self.on_done, self.description = run, on_done, description
        self.progress_bar.setVisible(True)
        self.progress_bar.setRange(0, 0)  # busy indicator until the first fraction arrives
        self.status_label.setText(_("{what}: starting").format(what=description))
        self.cancel_button.setEnabled(True)
        self.diagnostics_button.setEnabled(True)
        self.timer.start()

    def _tick(self) -> None:
        run = self.run
        if run is None:
            self.timer.stop()
            return
        run.poll()
        if run.fraction is not None:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * run.fraction))
        self.status_label.setText(f"{self.description}: {run.status_text}")
        if self.on_update is not None:
            self.on_update(run)
        if not run.running:
            self._finish()

    def _finish(self) -> None:
        try:
            self._conclude()
        finally:
            if self.on_finished is not None:
                self.on_finished()

    def _conclude(self) -> None:
        run, on_done = self.run, self.on_done
        self.timer.stop()
        self.cancel_button.setEnabled(False)
        self.progress_bar.setVisible(False)
        try:
            value = run.finish()
        except Exception as exc:  # the worker's one-line message, with the details one click away
            self.last_diagnostics = run.diagnostics()
            self.run = None
            self.status_label.setText(_("{what} failed: {message}").format(what=self.description, message=str(exc)))
            slicer.util.errorDisplay(_("{what} failed: {message}").format(what=self.description, message=str(exc)),
                                     detailedText=self.last_diagnostics)
            return
        self.last_diagnostics = run.diagnostics()
        self.run = None
        self.status_label.setText(_("{what}: done").format(what=self.description))
        if on_done is not None:
            on_done(value)

    def cancel(self) -> None:
        if self.run is None:
            return
        self.run.cancel()
        self.last_diagnostics = self.run.diagnostics()
        self.run = None
        self.timer.stop()
        self.progress_bar.setVisible(False)
        self.cancel_button.setEnabled(False)
        self.status_label.setText(_("{what}: cancelled").format(what=self.description))
        if self.on_finished is not None:
            self.on_finished()

    def copy_diagnostics(self) -> None:
        text = self.run.diagnostics() if self.run is not None else self.last_diagnostics
        qt.QApplication.clipboard().setText(text)
        slicer.util.showStatusMessage(_("Diagnostics copied to the clipboard"), 3000)

    def cleanup(self) -> None:
        """Stop on module cleanup or scene close: a job must not outlive its panel."""
        if self.run is not None:
            self.run.cancel()
            self.run = None
        self.timer.stop()


def ensure_dependencies() -> bool:
    """Install missing engine packages after asking (at the point of use, never at import); False if declined."""
    from weakseg import deps

    def ask(items):
        return slicer.util.confirmOkCancelDisplay(
            _("WeakSeg needs these Python packages, which are not installed:") + "\n\n" + "\n".join(items)
            + "\n\n" + _("Install them now? This can take a few minutes."))

    def install(requirements):
        slicer.util.pip_install(" ".join(f'"{r}"' for r in requirements))

    try:
        deps.ensure(ask, install)
    except deps.MissingDependencies as exc:
        slicer.util.errorDisplay(str(exc))
        return False
    return True
