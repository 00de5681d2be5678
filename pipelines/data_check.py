"""`--check-data`: read and decode a run's data into its feature cache as `prepare` does, train nothing, and
report every problem (one line per bad file), the files recordings share (and what each protocol does with them),
what the recordings hold (per condition), who they are of (per person, with their sensors) and, with
--held-out-people, who would be held out (or why they cannot be)."""

import collections
import dataclasses

import numpy as np

from avtfuse.contract import condition_name, condition_order
from pipelines import cache, held_out, sources, splits
from pipelines.errors import ErrorPolicy
from pipelines.recording import run_files


@dataclasses.dataclass
class DataCheck:
    """What --check-data found in a run's data.

    `problems`: every bad file or row, one DataError each; `bad_recordings`: the
    items they belong to (a recording with three bad files counts once);
    `modalities`: the run's modalities some recording has (canonical order);
    `people` [N]: the person of each usable recording; `recorded` [N, M]: 1
    where it has that modality; `on_error`: the run's --on-error; `files` [N]:
    each usable recording's files (real paths); `groups` [N]: its group key.
    `held_out`: with --held-out-people, (validation people, test people), or the reason they cannot be held out
    (a str); None without.
    """

    source: str
    problems: list
    bad_recordings: int
    modalities: tuple
    people: list
    recorded: np.ndarray
    on_error: str
    files: list
    groups: list
    held_out: tuple | str | None = None

    @property
    def usable(self):
        """Whether the run would start: no bad input, or --on-error skip leaves it out."""
        return not self.problems or self.on_error == "skip"

    def conditions(self):
        """{condition name: recordings holding exactly those sensors}, in report order (complete first)."""
        counts = collections.Counter(condition_name(row, self.modalities) for row in self.recorded)
        return {name: counts[name] for name in sorted(counts, key=condition_order)}

    def per_person(self):
        """{person: (recordings, {modality: recordings with it})}, people in order of first appearance."""
        people = np.array(self.people)
        return {person: (int((people == person).sum()),
                         {m: int(self.recorded[people == person, i].sum()) for i, m in enumerate(self.modalities)})
                for person in dict.fromkeys(self.people)}

    def text(self):
        """The report: a summary line, the problems, the counts per condition and per person, the verdict."""
        lines = [f"data: {self.source}: {len(self.people)} usable recordings of {len(set(self.people))} people; "
                 f"modalities {', '.join(self.modalities)}"]
        lines += self._problem_lines()
        lines += self._shared_file_lines()
        lines += self._condition_lines()
        lines += self._person_lines()
        lines += self._held_out_lines()
        lines.append(self._verdict())
        return "\n".join(lines)

    def _problem_lines(self):
        if not self.problems:
            return ["problems: none"]
        return [f"problems: {len(self.problems)} in {self.bad_recordings} recordings (one line each)",
                *(f"  {error}" for error in self.problems)]

    def shared_files(self):
        """(files named by more than one recording, the recordings naming one of them, the recording groups
        before and after `strict` and `folds` join the recordings that share a file)."""
        named = collections.Counter(path for paths in self.files for path in set(paths))
        shared = {path for path, count in named.items() if count > 1}
        sharing = sum(1 for paths in self.files if shared & set(paths))
        joined = splits.join_shared_files(self.groups, self.files)
        return len(shared), sharing, len(set(self.groups)), len(set(joined))

    def _shared_file_lines(self):
        shared, sharing, before, after = self.shared_files()
        if not shared:
            return ["shared files: none"]
        return [f"shared files: {shared} files named by {sharing} recordings (one person's: a file of two people "
                "is a problem above)",
                f"  strict, folds: joined into one group each, kept on one side ({before} groups -> {after})",
                "  official, manifest: refused where a file is on two sides of the given split",
                "  paper: allowed; results.json counts the test samples sharing a file with training"]

    def _condition_lines(self):
        conditions = self.conditions()
        width = max(len(name) for name in conditions)
        return ["recordings per condition:", *(f"  {name:<{width}}  {count}" for name, count in conditions.items())]

    def _person_lines(self):
        people = self.per_person()
        width = max(len("person"), *(len(str(person)) for person in people))
        header = f"  {'person':<{width}}  recordings  " + "  ".join(self.modalities)
        rows = [f"  {str(person):<{width}}  {count:>10}  "
                + "  ".join(f"{sensors[m]:>{len(m)}}" for m in self.modalities)
                for person, (count, sensors) in people.items()]
        return ["recordings per person (and with each sensor):", header, *rows]

    def _held_out_lines(self):
        if self.held_out is None:
            return []
        if isinstance(self.held_out, str):
            return [f"held out: cannot be: {self.held_out}"]
        validation, test = self.held_out
        return [f"held out: validation people {', '.join(validation)}; test people {', '.join(test)}"]

    def _verdict(self):
        if isinstance(self.held_out, str):
            return "not usable: the held-out people above"
        if not self.problems:
            return "usable: no bad input"
        if self.on_error == "skip":
            return f"usable: --on-error skip leaves out the {self.bad_recordings} recordings with bad input"
        return (f"not usable: {self.bad_recordings} recordings with bad input; fix them, or leave them out with "
                "--on-error skip")


def check_data(config):
    """The DataCheck of `config` (a DataConfig): its data read and decoded into the feature cache (written when
    there is none, reused when there is), every problem collected whatever config.on_error says; nothing is
    split or trained. Raises DataError when no recording is usable."""
    policy = ErrorPolicy("skip", log=False)
    recordings, modalities, path, _ = sources.cached_features(config, policy)
    meta = cache.read_meta(path)
    by_id = {recording.recording: recording for recording in recordings}
    files = [list(run_files(by_id[r], modalities).values()) for r in meta["recordings"]]
    return DataCheck(config.source or "the built-in synthetic set", policy.skipped, len(policy.items), modalities,
                     list(meta["people"]), np.array(meta["recorded"], np.int64).reshape(-1, len(modalities)),
                     config.on_error, files, list(meta["groups"]),
                     _held_out(config, list(meta["people"]), list(meta["groups"]), files) if config.held_out_people
                     else None)


def _held_out(config, people, groups, files):
    """(validation people, test people) that --held-out-people would hold out, or the one-line reason it cannot
    (`pipelines.held_out`; groups joined by shared files, as the split joins them)."""
    try:
        validation, test = held_out.choose_people(people, config.held_out_people, config.seed)
        roles = held_out.roles(people, validation, test)
        held_out.enrolment(people, splits.join_shared_files(groups, files), roles, config.seed,
                           config.enrol_per_person)
    except ValueError as error:
        return str(error)
    return validation, test
