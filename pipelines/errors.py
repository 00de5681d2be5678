"""Errors for bad input data, and the policy that collects them for one report.

Every reader and the cache builder hand each problem to an `ErrorPolicy`, so
that a run checks all of its input before it stops: under on_error="raise" the
problems are gathered and raised together as one `InputErrors` (one line per
problem) at the end of the stage; under "skip" the bad items are left out and
listed with their count. A recording with several bad files lists every one
of them (`DataErrors`) and counts once.
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


class DataErrors(DataError):
    """Every problem of one bad item (a recording with several bad files): `errors`, its DataErrors, one line each.
    `path` and `reason` are the first one's."""

    def __init__(self, errors):
        self.errors = list(errors)
        if not self.errors:
            raise ValueError("DataErrors needs at least one DataError")
        super().__init__(self.errors[0].path, self.errors[0].reason)
        self.args = ("\n".join(str(error) for error in self.errors),)

    def __str__(self):
        return self.args[0]

    @staticmethod
    def of(errors):
        """The one DataError of `errors` when it is alone, else their DataErrors."""
        errors = list(errors)
        return errors[0] if len(errors) == 1 else DataErrors(errors)


def problems_of(error):
    """The DataErrors a DataError stands for: those of a DataErrors, else [error]."""
    return list(error.errors) if isinstance(error, DataErrors) else [error]


class InputErrors(ValueError):
    """Every problem a stage found in the input: `errors` is the list of DataErrors, one line each; `count` the
    bad items (recordings, rows) they belong to (default: one each)."""

    def __init__(self, errors, what, count=None):
        self.errors = list(errors)
        count = len(self.errors) if count is None else count
        lines = "\n".join(f"  {error}" for error in self.errors)
        super().__init__(f"{count} {what} with bad input (--on-error skip leaves them out):\n{lines}")


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
    """Collects the problems of bad items; at the end of a stage `report` raises them all (on_error="raise") or
    lists and counts them (on_error="skip").

    Usage: `policy.handle(error)` for each bad item inside a reader loop (a
    DataError, or DataErrors for several problems of one recording), then
    `policy.report(what)` once the input has been checked. `items` holds each
    bad item's problems (a list of DataErrors); `skipped` all of them, in order.
    A reader that refuses a recording for a file it lacks passes the files it
    found as `found` (a Recording): `refused` lists them with their item, so
    that the decode stage checks those files too and adds their problems to it.
    """

    def __init__(self, on_error="raise", log=True):
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
        self.on_error = on_error
        self.log = log  # False: `report` leaves listing the skipped items to the caller (--check-data)
        self.items = []
        self.refused = []

    @property
    def skipped(self):
        """Every problem collected, one DataError per line, item by item."""
        return [error for item in self.items for error in item]

    def handle(self, error, found=None):
        """Takes one bad item: `error` lists every one of its problems and counts once. `found`: the Recording of
        the files found of a recording refused for `error`, still to be checked (`refused`)."""
        logger.debug("bad input: %s", error)
        item = problems_of(error)
        self.items.append(item)
        if found is not None:
            self.refused.append((found, item))

    def merge(self, errors):
        """Takes the problems of one item recorded earlier (a cache's meta.json): added to the item that already
        lists one of them (a recording its reader refused again), else a new item."""
        known = {str(error): item for item in self.items for error in item}
        item = next((known[str(error)] for error in errors if str(error) in known), None)
        if item is None:
            self.handle(DataErrors.of(errors))
            return
        listed = {str(error) for error in item}
        item.extend(error for error in errors if str(error) not in listed)

    def report(self, what="recordings"):
        """Raises InputErrors with every problem collected (on_error="raise"); otherwise logs them with the
        count of bad items and returns that count."""
        if self.items and self.on_error == "raise":
            raise InputErrors(self.skipped, what, len(self.items))
        if self.items and self.log:
            logger.warning("skipped %d %s because of bad input:\n  %s", len(self.items), what,
                           "\n  ".join(str(e) for e in self.skipped))
        return len(self.items)
