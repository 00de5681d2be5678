"""The data settings of a run (`DataConfig`) and `prepare`: its recordings read and decoded into the feature cache
(pipelines.sources), then split once (pipelines.split_data). Batches are pipelines.batching's."""

import dataclasses
import logging
import numbers
import os

from avtfuse.config import Config, setting
from avtfuse.contract import ABLATIONS, MISSING_FILLS, MODALITIES, PROTOCOLS, canonical_modalities
from pipelines import cache, held_out, sources, split_data, splits
from pipelines.corruptions import parse_corruptions
from pipelines.errors import ON_ERROR_CHOICES, ErrorPolicy
from pipelines.features import FeatureConfig
from pipelines.ravdess import ACTORS as RAVDESS_ACTORS
from pipelines.synthetic import SYNTHETIC_SETS

logger = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "avtfuse")
LABELS = ("actor", "emotion")


def parse_subjects(text):
    """Subject numbers as text, '1-75' or '1,2,5', as a tuple of ints; None (or empty) stays None."""
    if not text:
        return None
    subjects = []
    for part in str(text).split(","):
        first, _, last = part.partition("-")
        try:
            subjects.extend(range(int(first), int(last or first) + 1))
        except ValueError:
            raise ValueError(f"cannot read {part!r}; use e.g. 1-75 or 1,2,5") from None
    return tuple(subjects)


def parse_held_out_people(text):
    """Held-out people as text: a count ('16', an int) or a comma-separated list of person ids ('3,7,11,12', a
    tuple of str); empty or 'none' is 0 (none)."""
    if isinstance(text, int):
        return text
    text = str(text).strip()
    if text.isdigit():
        return int(text)
    if text.lower() in ("", "none"):
        return 0
    return tuple(name.strip() for name in text.split(","))


def parse_frame(text):
    """A frame as text: 'middle', 'first', 'last' or a frame number (an int)."""
    return int(text) if isinstance(text, str) and text.isdigit() else text


def parse_shares(text):
    """Shares of recordings without audio, visible, thermal as text, 'A,V,T' (e.g. '0,0,0.25'), as a tuple of three
    floats."""
    try:
        shares = tuple(float(item) for item in text.split(","))
    except ValueError:
        raise ValueError(f"cannot read {text!r}; use three shares a,v,t, e.g. 0,0,0.25") from None
    if len(shares) != len(MODALITIES):
        raise ValueError(f"need three shares a,v,t (audio, visible, thermal), got {text!r}")
    return shares


def parse_rates(text):
    """Missing rates as text, '0,0.1,...' or 'none', as a tuple of rates in [0, 1) (empty for 'none')."""
    if text.strip().lower() == "none":
        return ()
    try:
        rates = tuple(float(item) for item in text.split(",") if item.strip())
    except ValueError:
        raise ValueError(f"cannot read {text!r}; use e.g. 0,0.1,0.2 or none") from None
    if len(rates) < 2 or any(not 0.0 <= rate < 1.0 for rate in rates):
        raise ValueError(f"need two or more rates in [0, 1), got {text!r}")
    return rates


@dataclasses.dataclass(frozen=True)
class DataConfig(Config):
    """Where the data comes from and how it becomes ablated, split samples.

    `source`: a SpeakingFaces root folder, a RAVDESS folder (`Actor_XX/`
    inside), a manifest CSV (media or `.npy` feature files), or None for the
    built-in synthetic set (written once under `cache_dir`): `synthetic`
    "speakingfaces" (`synthetic_subjects` people) or "ravdess"
    (`synthetic_subjects` actors, 1..24, with thermal videos). `label`: what a
    RAVDESS class is ("actor" or "emotion"). `protocol`: "paper" (ablate, then
    split samples at random), "strict" (every copy of a recording, and every
    recording of a group, on one side), "official" / "manifest" (the side the
    data gives), "folds" (fold `fold`, 1..5, of six blocks of actors: needs a
    class other than the actor; pipelines.splits). `validation_fraction` of
    the data forms the validation split, `test_fraction` the test split (not
    used by "folds"). `ablation`: the copies training sees, "paper" (complete
    + one copy per missing modality), "subsets" (every non-empty subset) or
    "complete"; the other subsets are evaluation-only test copies.
    `missing_fill`: what a missing modality holds in `SplitData.batches`
    (validation, test): "zeros" (the contract) or "noise" (N(0, 1), the same
    for every run). `missing_rates`: the rates (in [0, 1)) at which the test
    split is evaluated again with that share of every sequence's real steps
    missing (a single frame is one step; pipelines.step_masks static masks,
    the same for every system and run; empty: none). `frame`: the camera frame of a recording (SpeakingFaces
    folders and video files). A thermal palette "auto" is chosen from the
    data's thermal frames when the cache is keyed (pipelines.palette_choice).
    `natural_missing`: the shares of the synthetic set's recordings written
    without audio, visible, thermal (their files left out when the set is
    written; every recording keeps one sensor; pipelines.synthetic.unrecorded):
    data that arrives incomplete, unlike modality dropout (training batches)
    and `missing_rates` (missing steps at test). `held_out_people`: a count
    N or a tuple of person ids never trained on (0: none), validation and
    test people of the verification, each enrolled from at least
    `enrol_per_person` recordings (pipelines.held_out; the class must be the
    person).
    """

    source: str | None = setting(None, "a SpeakingFaces root, a RAVDESS folder or a manifest CSV (media or .npy "
                                 "features); omitted: the built-in synthetic set", flag="--data")
    modalities: tuple = setting(MODALITIES, "comma-separated subset of audio,visible,thermal")
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)
    protocol: str = setting("paper", "paper: ablate then split samples at random (copies of a recording may cross "
                            "the split, as in the paper); strict: every copy of a recording, and every recording of a "
                            "group, on one side; official: SpeakingFaces' train/valid/test folders; manifest: its "
                            "split column; folds: actor folds (--fold) of RAVDESS or a manifest's subject column",
                            choices=PROTOCOLS)
    fold: int = setting(1, "actor fold of --protocol folds", choices=range(1, splits.FOLDS + 1),
                        metavar=f"1..{splits.FOLDS}")
    test_fraction: float = splits.PAPER_TEST_FRACTION
    validation_fraction: float = setting(0.1, "share of the data in the validation split, which early stopping "
                                         "reads")
    ablation: str = setting("paper", "training copies: paper (complete + one missing modality), subsets (every "
                            "subset) or complete (complete recordings only; every subset is still tested)",
                            choices=ABLATIONS)
    missing_fill: str = "zeros"
    missing_rates: tuple = setting((), "evaluate the test split with this share of every sequence's steps missing "
                                   "(static masks, the same for every system), e.g. 0,0.1,...,0.9, or none",
                                   type=parse_rates, metavar="RATES")
    corruptions: tuple = setting((), "evaluate the test split's complete recordings under these corruptions at "
                                 "severities 1-5 (each alone, then every sensor corrupted at once): all, none or "
                                 "modality/name keys, e.g. audio/noise,visible/gaussian_blur (docs/corruptions.md)",
                                 type=parse_corruptions, metavar="NAMES")
    label: str = setting("actor", "RAVDESS classes", choices=LABELS)
    subjects: tuple | None = setting(None, "SpeakingFaces subject numbers to use, e.g. 1-75 or 1,2,5",
                                     parse=parse_subjects)
    frame: str = setting("middle", "frame of a recording: middle, first, last or a number", parse=parse_frame)
    synthetic: str = setting("speakingfaces", "the layout of the built-in synthetic set without --data",
                             choices=SYNTHETIC_SETS)
    synthetic_subjects: int = setting(12, "people in the synthetic set")
    natural_missing: tuple = setting((0.0, 0.0, 0.0), "synthetic set only: shares of its recordings written without "
                                     "audio, visible, thermal (every recording keeps one sensor), e.g. 0,0,0.25",
                                     type=parse_shares, metavar="A,V,T")
    held_out_people: int | tuple = setting(0, "people never trained on, for verification: a count N (drawn by "
                                           "--seed; half of them, at least 2, validation people, the rest test "
                                           "people) or a comma-separated list of person ids", metavar="N|IDS",
                                           parse=parse_held_out_people)
    enrol_per_person: int = setting(3, "recordings (whole recording groups) that enrol each held-out person; "
                                    "the other recordings are probes", metavar="K")
    cache_dir: str = setting(DEFAULT_CACHE_DIR, "where the synthetic set and the decoded-feature cache are written")
    on_error: str = setting("raise", "bad input files: stop naming the file, or skip and count them",
                            choices=ON_ERROR_CHOICES)
    seed: int = setting(0, "seed of the data set, split, weight initialisation, data order and dropout",
                        flag="--seed", group="training")

    def __post_init__(self):
        self._set("modalities", canonical_modalities(self.modalities))
        self._set("features", FeatureConfig.coerce(self.features))
        self.check_choice("synthetic", SYNTHETIC_SETS)
        self.check_choice("protocol", PROTOCOLS)
        self.check_choice("ablation", ABLATIONS)
        self.check_choice("missing_fill", MISSING_FILLS)
        self.check_choice("label", LABELS)
        self.check_choice("on_error", ON_ERROR_CHOICES)
        self.check_int("fold", "synthetic_subjects")
        if self.fold > splits.FOLDS:
            self._fail("fold", f"a fold in 1..{splits.FOLDS}")
        if self.protocol == "folds" and self.label == "actor":
            self._fail("label", "'emotion' under --protocol folds (a fold tests actors it never trained on)")
        if self.synthetic == "ravdess" and self.synthetic_subjects > len(RAVDESS_ACTORS):
            self._fail("synthetic_subjects", f"1..{len(RAVDESS_ACTORS)} actors for the synthetic RAVDESS")
        if not 0.0 < self.test_fraction < 1.0:
            self._fail("test_fraction", "a fraction in (0, 1)")
        if not 0.0 <= self.validation_fraction < 1.0 - self.test_fraction:
            self._fail("validation_fraction", f"a fraction in [0, {1.0 - self.test_fraction:.3f})")
        self._set("missing_rates", tuple(self.missing_rates))
        if any(isinstance(r, bool) or not isinstance(r, (int, float)) or not 0.0 <= r < 1.0
               for r in self.missing_rates) or len(set(self.missing_rates)) != len(self.missing_rates):
            self._fail("missing_rates", "distinct rates in [0, 1)")
        if len(self.missing_rates) == 1:
            self._fail("missing_rates", "two or more rates (a curve), or none")
        self._set("missing_rates", tuple(float(r) for r in self.missing_rates))
        try:
            self._set("corruptions", parse_corruptions(self.corruptions))
        except ValueError as error:
            raise ValueError(f"--corruptions: {error}") from None
        if self.subjects is not None:
            self._set("subjects", tuple(self.subjects))
        self._set("natural_missing", tuple(self.natural_missing))
        if len(self.natural_missing) != len(MODALITIES) or any(
                isinstance(s, bool) or not isinstance(s, (int, float)) or not 0.0 <= s <= 1.0
                for s in self.natural_missing):
            self._fail("natural_missing", "three shares in [0, 1] (audio, visible, thermal)")
        self._set("natural_missing", tuple(float(s) for s in self.natural_missing))
        if self.source is not None and any(self.natural_missing):
            self._fail("natural_missing", "the built-in synthetic set (no source): other data arrives as it is")
        if sum(self.natural_missing) > len(MODALITIES) - 1:
            self._fail("natural_missing", f"shares adding up to at most {len(MODALITIES) - 1} (every recording keeps "
                                          "one sensor)")
        self._check_held_out()

    def _check_held_out(self):
        """`held_out_people` as a count (0: none) or a tuple of distinct person ids, giving at least
        held_out.MIN_HELD_OUT people, only where the class is the person; `enrol_per_person` an integer >= 1."""
        people, flag = self.held_out_people, held_out.FLAG
        if isinstance(people, str):
            people = parse_held_out_people(people)
        if isinstance(people, (list, tuple)):
            people = tuple(str(name).strip() for name in people) or 0
        enrol = self.enrol_per_person
        if isinstance(enrol, bool) or not isinstance(enrol, numbers.Integral) or enrol < 1:
            raise ValueError(f"--enrol-per-person: expected an integer >= 1, got {enrol!r}")
        self._set("enrol_per_person", int(enrol))
        if isinstance(people, tuple):
            if not all(people) or len(set(people)) != len(people):
                raise ValueError(f"{flag}: expected distinct, non-empty person ids, got {','.join(people)!r}")
            count = len(people)
        elif isinstance(people, numbers.Integral) and not isinstance(people, bool) and people >= 0:
            people = count = int(people)
        else:
            raise ValueError(f"{flag}: expected a count or a list of person ids, got {self.held_out_people!r}")
        self._set("held_out_people", people)
        if not count:
            return
        if count < held_out.MIN_HELD_OUT:
            raise ValueError(f"{flag}: expected at least {held_out.MIN_HELD_OUT} people ({held_out.MIN_VALIDATION} "
                             f"validation and {held_out.MIN_HELD_OUT - held_out.MIN_VALIDATION} test people), got "
                             f"{count}")
        if self.protocol == "folds":
            raise ValueError(f"{flag}: the class must be the person; --protocol folds classifies something else "
                             "(--label emotion) and holds its subjects out by itself")
        if self.label != "actor":
            raise ValueError(f"{flag}: the class must be the person (--label actor), got --label {self.label}")


    # Settings that say where things are, not what the data is: a run resumes under other values.
    LOCATION_FIELDS = ("cache_dir",)
    # Settings that only evaluation reads (an evaluation stage is keyed by them, the trained models are not).
    EVALUATION_FIELDS = ("missing_rates", "corruptions")


def prepare(config):
    """Reads, checks and caches the data of `config` (pipelines.sources), then makes its one split
    (pipelines.split_data); returns its SplitData.

    A complete cache for the same files and settings is reused without
    decoding anything again. Every file is checked before anything trains:
    all problems are raised together (InputErrors, one line per file), or the
    bad recordings are skipped and listed (config.on_error="skip").
    """
    cached = sources.cached_features(config, ErrorPolicy(config.on_error))
    return split_data.split_cache(config.replace(features=cached.features), cached.path, cached.recordings,
                                  cached.modalities)


def data_sha256(config):
    """The SHA-256 (hex) of the decoded contents of `config`'s data, as a run's identity.json records it: its
    feature cache's (pipelines.cache.content_sha256; the cache is written first when there is none)."""
    return cache.read_meta(sources.cached_features(config, ErrorPolicy(config.on_error)).path)["content_sha256"]
