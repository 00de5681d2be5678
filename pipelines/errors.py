"""Errors for bad input data, and the policy that raises or counts them."""

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


def check_input_file(path, suffixes, kind):
    """`path` as a str; DataError naming it when it is not a file or its suffix is not in `suffixes`."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise DataError(path, f"{kind} file not found")
    if suffix not in suffixes:
        raise DataError(path, f"unsupported {kind} suffix {suffix!r}; expected one of {suffixes}")
    return path


class ErrorPolicy:
    """Raises a DataError, or (on_error="skip") counts it for the end-of-run report.

    Usage: `policy.handle(DataError(path, reason))` inside a reader loop, then
    `policy.report()` once the loop is done.
    """

    def __init__(self, on_error="raise"):
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
        self.on_error = on_error
        self.skipped = []

    def handle(self, error):
        if self.on_error == "raise":
            raise error
        logger.warning("skipped %s", error)
        self.skipped.append(error)

    def report(self, what="recordings"):
        """Logs how many items were skipped and why; returns that count."""
        if self.skipped:
            logger.warning(
                "skipped %d %s because of bad input:\n  %s",
                len(self.skipped),
                what,
                "\n  ".join(str(e) for e in self.skipped),
            )
        return len(self.skipped)
