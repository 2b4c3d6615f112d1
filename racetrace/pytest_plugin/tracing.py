"""Tracing for one pytest process: the recorder on, and the RACETRACE_* variables set, so that
every subprocess a test starts attaches itself (through racetrace.pth) and writes its own file
into the same directory. Off again, and the environment as it was, when the session ends.
"""

from __future__ import annotations

import os

from racetrace.tracer import semconv

from .tail import erase

_VARIABLES = (semconv.ENV_ENABLE, semconv.ENV_TARGETS, semconv.ENV_DIR, semconv.ENV_SESSION_DIR)


class Tracing:
    def __init__(self, directory: str, targets: tuple[str, ...]) -> None:
        self.directory = directory
        self.targets = list(targets)
        self.adopted = False  # racetrace was already recording into this directory
        self._saved: dict[str, str | None] = {}
        self.running = False

    def start(self, *, erase_recursive: bool) -> None:
        from racetrace.tracer import attach, runtime

        recorder = runtime.RECORDER
        if recorder is not None and recorder.config.directory == self.directory:
            # `racetrace run -- pytest --racetrace`, or RACETRACE=1 in the environment: the
            # recorder started with the interpreter and its file may already be open. Keep it.
            self.adopted = True
        else:
            if recorder is not None:
                attach.stop()  # recording elsewhere: this session's directory is the one asked
            erase(self.directory, recursive=erase_recursive)
        self._saved = {name: os.environ.get(name) for name in _VARIABLES}
        if not self.adopted or not _on(os.environ.get(semconv.ENV_ENABLE, "")):
            os.environ[semconv.ENV_ENABLE] = "1"  # every framework preset, as RACETRACE=1
        os.environ[semconv.ENV_DIR] = self.directory
        # The test session's folder is the trace session: written flat, joined by every child.
        os.environ[semconv.ENV_SESSION_DIR] = self.directory
        self._export_targets()
        attach.start(directory=self.directory)
        self.running = True

    def add_targets(self, specs: tuple[str, ...]) -> None:
        """Trace `specs` too, from now on, here and in the subprocesses started from now on."""
        from racetrace.tracer import targets

        new = [s for s in specs if s not in self.targets]
        if not new:
            return
        self.targets.extend(new)
        self._export_targets()
        for spec in new:
            targets.request_spec(spec)

    def _export_targets(self) -> None:
        before = self._saved.get(semconv.ENV_TARGETS) or ""
        specs = [s.strip() for s in before.split(",") if s.strip()]
        specs += [s for s in self.targets if s not in specs]
        if specs:
            os.environ[semconv.ENV_TARGETS] = ",".join(specs)

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        if not self.adopted:
            from racetrace.tracer import attach

            attach.stop()
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _on(value: str) -> bool:
    return value.strip().lower() not in semconv.OFF_VALUES
