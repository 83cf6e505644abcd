"""``python -m weakseg.worker JOB.json``: run one job, streaming JSON-line events on stdout."""

from __future__ import annotations

import logging
import os
import sys
import traceback

from weakseg import __version__
from weakseg.errors import WeakSegError, from_os_error, is_environment_error
from weakseg.worker import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, lifetime
from weakseg.worker.job import job_runner, read_job
from weakseg.worker.protocol import PROTOCOL_VERSION, EventLogHandler, EventStream, claim_stdout


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    lifetime.lead_process_group()
    lifetime.install()
    events = EventStream(claim_stdout())
    logger = logging.getLogger("weakseg")
    logger.addHandler(EventLogHandler(events))
    logger.setLevel(logging.INFO)
    try:
        return _run(argv, events)
    except lifetime.Terminated as exc:
        events.emit("error", type="cancelled", message=f"terminated ({exc})", path=None)
        return EXIT_INTERRUPTED
    finally:
        lifetime.end_children()


def _run(argv: list[str], events: EventStream) -> int:
    if len(argv) != 1:
        events.emit("error", type="bad-input", message="usage: python -m weakseg.worker JOB.json", path=None)
        return EXIT_BAD_INPUT
    try:
        job = read_job(argv[0])
        events.emit("start", job=job.kind, pid=os.getpid(), weakseg=__version__, protocol=PROTOCOL_VERSION,
                    python=sys.version.split()[0])
        result = job_runner(job.kind)(job.parameters, events, job)
    except WeakSegError as exc:
        kind = "cancelled" if type(exc).__name__ == "Cancelled" else "bad-input"
        events.emit("error", type=kind, message=_one_line(exc), path=exc.path)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        events.emit("error", type="cancelled", message="interrupted", path=None)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if not is_environment_error(exc):
            return _internal(exc, events)
        error = from_os_error(exc)
        events.emit("error", type="bad-input", message=_one_line(error), path=error.path)
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug: one line for the panel, the traceback on stderr only when debugging
        return _internal(exc, events)
    events.emit("result", result=result)
    return EXIT_OK


def _internal(exc: BaseException, events: EventStream) -> int:
    if os.environ.get("WEAKSEG_DEBUG"):
        traceback.print_exc(file=sys.stderr)
    events.emit("error", type="internal", message=_one_line(f"internal error: {type(exc).__name__}: {exc}"), path=None)
    return EXIT_INTERNAL

if __name__ == "__main__":
    sys.exit(main())
