"""Errors for bad input data, and the policy that collects them for one report.

Every reader and the cache builder hand each problem to an `ErrorPolicy`, so
that a run checks all of its input before it stops: under on_error="raise" the
problems are gathered and raised together as one `InputErrors` (one line per
file) at the end of the stage; under "skip" the bad items are left out and
listed with their count.
"""

import logging
import os

logger = logging.getLogger(__name__)

ON_ERROR_CHOICES = ("raise", "skip")


class DataError(ValueError):
    """A bad input file or row; the message always names the file or argument."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class InputErrors(ValueError):
    """Every problem a stage found in the input: `errors` is the list of DataErrors; one line each."""

    def __init__(self, errors, what):
        self.errors = list(errors)
        lines = "\n".join(f"  {error}" for error in self.errors)
        super().__init__(f"{len(self.errors)} {what} with bad input (--on-error skip leaves them out):\n{lines}")


def check_input_file(path, suffixes, kind):
    """`path` as a str; DataError naming it when it is not a file, is empty or its suffix is not in `suffixes`."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise DataError(path, f"{kind} file not found")
    if suffix not in suffixes:
        raise DataError(path, f"unsupported {kind} suffix {suffix!r}; expected one of {', '.join(suffixes)}")
    if os.path.getsize(path) == 0:
        raise DataError(path, f"empty {kind} file (0 bytes)")
    return path


class ErrorPolicy:
    """Collects DataErrors; at the end of a stage `report` raises them all (on_error="raise") or lists
    and counts them (on_error="skip").

    Usage: `policy.handle(DataError(path, reason))` for each bad item inside a
    reader loop, then `policy.report(what)` once the input has been checked.
    """

    def __init__(self, on_error="raise"):
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
        self.on_error = on_error
        self.skipped = []

    def handle(self, error):
        logger.debug("bad input: %s", error)
        self.skipped.append(error)

    def report(self, what="recordings"):
        """Raises InputErrors with every problem collected (on_error="raise"); otherwise logs them with
        their count and returns that count."""
        if self.skipped and self.on_error == "raise":
            raise InputErrors(self.skipped, what)
        if self.skipped:
            logger.warning("skipped %d %s because of bad input:\n  %s", len(self.skipped), what,
                           "\n  ".join(str(e) for e in self.skipped))
        return len(self.skipped)
