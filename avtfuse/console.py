"""Quiet, readable console output for the experiments.

`silence_tensorflow_notices` must run before TensorFlow is first imported
(importing Keras imports it): the experiments package calls it on import.

verbose 0: warnings and errors only; 1 (default): progress of every stage;
2: also TensorFlow's C++ notices (TF-TRT, local rendezvous, CPU instruction
sets) and the Keras warnings known to be harmless here.
"""

import contextlib
import logging
import os
import re
import time
import warnings

from avtfuse.locks import FolderInUse

# Keras warnings that say nothing to a user of avtfuse (the pipelines end
# finite datasets on purpose; Normalization.adapt reads a finite dataset).
HARMLESS_WARNINGS = (
    r".*Your input ran out of data.*",
    r".*local rendezvous.*",
)


class _DropMessages(logging.Filter):
    """Drops log records whose message matches one of HARMLESS_WARNINGS."""

    def filter(self, record):
        message = record.getMessage()
        return not any(re.match(pattern, message, re.DOTALL) for pattern in HARMLESS_WARNINGS)


def requested_verbosity(argv):
    """The --verbose value among command-line arguments (1 when absent or unreadable)."""
    for index, argument in enumerate(argv):
        value = argument.split("=", 1)[1] if argument.startswith("--verbose=") else (
            argv[index + 1] if argument == "--verbose" and index + 1 < len(argv) else None)
        if value in ("0", "1", "2"):
            return int(value)
    return 1


def silence_tensorflow_notices(verbose):
    """Hides TensorFlow's C++ notices unless `verbose` is 2 (only effective before TensorFlow loads)."""
    if verbose < 2:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def configure_output(verbose=1):
    """Sets up logging for an experiment run at `verbose` 0, 1 or 2 (see the module docstring)."""
    if verbose not in (0, 1, 2):
        raise ValueError(f"--verbose: expected 0, 1 or 2, got {verbose!r}")
    silence_tensorflow_notices(verbose)
    if verbose < 2:
        for pattern in HARMLESS_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose < 2:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_DropMessages())
        for library in ("tensorflow", "absl", "tf2onnx"):  # tf2onnx: its conversion notes (--export onnx)
            logging.getLogger(library).setLevel(logging.ERROR)


def keras_verbosity(verbose, interactive):
    """Keras fit verbosity for a run's `verbose`: progress bars on a terminal; elsewhere Keras' epoch lines
    only at verbose 2 (the phase runner logs one line per epoch itself)."""
    if verbose == 0 or (verbose == 1 and not interactive):
        return 0
    return 1 if interactive else 2


def format_duration(seconds):
    """'1 h 02 min', '3 min 05 s' or '12 s'."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class Progress:
    """Logs "<verb> n / total <items> (rate/s, about T left)" at most every `interval` seconds and at the end."""

    def __init__(self, logger, verb, total, items="recordings", interval=10.0):
        self.logger, self.verb, self.total, self.items, self.interval = logger, verb, total, items, interval
        self.started = self.last = time.monotonic()

    def update(self, done):
        now = time.monotonic()
        if done < self.total and now - self.last < self.interval:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        left = (self.total - done) / rate if rate > 0 else 0.0
        self.logger.info("%s %d / %d %s (%.1f/s, about %s left)", self.verb, done, self.total, self.items, rate,
                         format_duration(left))


@contextlib.contextmanager
def errors_exit(debug):
    """Turns a bad-input or bad-argument error, or a run folder in use by another run, into its message and exit
    status 1 (the traceback with --debug)."""
    try:
        yield
    except (ValueError, FileNotFoundError, FolderInUse) as error:
        if debug:
            raise
        raise SystemExit(f"error: {error}") from None
