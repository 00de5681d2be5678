"""The registry of tiny trained runs the tests share (docs/testing.md, "The registry of trained runs").

Every entry is built at most once per test session, by whichever xdist worker asks first: entries live in one
folder that both workers see (`session_root`), and an fcntl lock per entry makes the other worker wait and then
read the finished entry. An entry is

- a `Tree`: a tiny data tree (synthetic RAVDESS, a manifest, ...), written by a function;
- a `Run`: one `python -m experiments.<module> <flags>` call (the registry adds --cache-dir, --output-dir,
  --saved-models-dir and --run-name; "{tree:NAME}" in the flags is that tree's folder). Runs with the same
  `cache` share one feature cache, prepared under that cache's lock before the run trains;
- a `Composite`: any other builder of trained outputs (the robustness benchmark's runs).

Tests read an entry's outputs and never change them (calling a run's entry point again with its own flags reads it
back, and is fine); a test that must change a run trains its own. A run's log (the records its build logged) is
kept in build.log, for tests that assert a warning. An entry that failed is recorded, and raised again at once for
every test that asks for it.

    def test_something(registry):
        run = registry.run("avtnet")        # a TrainedRun: run_dir, saved_model, flags, results(), log()
        tree = registry.tree("ravdess-avt")

A new feature adds an entry below (or a flag to an existing one, when the tests of both still hold) instead of
training a run of its own.
"""

import contextlib
import dataclasses
import fcntl
import importlib
import io
import itertools
import json
import logging
import os
import pathlib
import re
import shutil
import time
import traceback

import numpy as np

TREE_PLACEHOLDER = re.compile(r"\{tree:([\w.-]+)\}")  # in a Run's flags: that tree's folder
DONE_FILE = ".registry.json"  # written last: the entry is complete (how long it took, which worker built it)
LOG_FILE = "build.log"
WORKERS_LOG = "workers.log"  # a run trained by several local workers: their output lines
WAITS_FILE = "waits.jsonl"  # in the registry's folder: each wait of a worker for an entry the other was building


class RegistryError(RuntimeError):
    """An entry could not be built (here or in the other worker)."""


@dataclasses.dataclass(frozen=True)
class Tree:
    """A data tree: write(folder) writes it; needs: trees it copies from."""

    name: str
    write: object
    needs: tuple = ()
    doc: str = ""


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of `python -m experiments.<module>` with `flags` (see the module docstring)."""

    name: str
    module: str
    flags: tuple
    cache: str
    run_name: str = "run"
    doc: str = ""
    workers: int = 1  # more than 1: trained by that many local workers (python -m experiments.launch_local)

    @property
    def needs(self):
        return tuple(dict.fromkeys(name for flag in self.flags for name in TREE_PLACEHOLDER.findall(flag)))


@dataclasses.dataclass(frozen=True)
class Composite:
    """Trained outputs of several runs: build(registry, folder) writes them."""

    name: str
    build: object
    needs: tuple = ()
    doc: str = ""


ENTRIES = {}


def register(entry):
    if entry.name in ENTRIES:
        raise ValueError(f"registry: {entry.name!r} is registered twice")
    ENTRIES[entry.name] = entry
    return entry


@dataclasses.dataclass(frozen=True)
class TrainedRun:
    """A finished registry run: its folders, the flags it was trained with, and readers of its outputs."""

    name: str
    folder: pathlib.Path
    flags: tuple
    run_name: str
    module: str

    @property
    def runs(self):
        """The --output-dir of the run (its run folder and, with specialists, theirs beside it)."""
        return self.folder / "runs"

    @property
    def run_dir(self):
        return self.runs / self.run_name

    @property
    def saved(self):
        """The --saved-models-dir of the run."""
        return self.folder / "saved"

    @property
    def saved_model(self):
        return self.saved / self.run_name

    def specialist_dir(self, modality):
        return self.runs / f"{self.run_name}-specialist-{modality}"

    def read_json(self, name):
        return json.loads((self.run_dir / name).read_text())

    def results(self):
        return self.read_json("results.json")

    def config(self):
        """The run's ExperimentConfig (from its config.json)."""
        from avtfuse.runs import ExperimentConfig

        return ExperimentConfig.from_dict(self.read_json("config.json"))

    def data(self):
        """The run's SplitData, read from its feature cache."""
        from pipelines.dataset import prepare

        return prepare(self.config().data)

    def log(self):
        """What the run logged while it was built (build.log)."""
        return (self.folder / LOG_FILE).read_text()

    def workers_log(self):
        """A run trained by local workers: their output lines ("worker <i>: ...")."""
        return (self.folder / WORKERS_LOG).read_text()

    def main(self, extra=()):
        """Calls the run's entry point again with its flags (and `extra`): a finished run is read back."""
        importlib.import_module(f"experiments.{self.module}").main([*self.flags, *extra])


def session_root(tmp_path_factory):
    """The registry's folder: shared by the xdist workers of one session (beside their own base folders), the
    session's own base folder without xdist."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "registry"
    root.mkdir(exist_ok=True)
    return root


class Registry:
    """The entries of ENTRIES built under `root` (see the module docstring)."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        (self.root / "locks").mkdir(parents=True, exist_ok=True)
        self._built = {}

    @contextlib.contextmanager
    def locked(self, name):
        """Holds the cross-worker lock of `name` (an entry, or "cache-<name>"). A wait of a second or more (the
        other worker was building it: this worker's core idled) is appended to WAITS_FILE."""
        with open(self.root / "locks" / f"{name}.lock", "a") as handle:
            start = time.monotonic()
            fcntl.flock(handle, fcntl.LOCK_EX)
            waited = time.monotonic() - start
            if waited >= 1:
                with open(self.root / WAITS_FILE, "a") as waits:
                    waits.write(json.dumps({"lock": name, "seconds": round(waited, 1),
                                            "worker": os.environ.get("PYTEST_XDIST_WORKER", "master")}) + "\n")
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def cache_dir(self, name):
        return self.root / "caches" / name

    def prepare(self, module, flags):
        """Prepares the data of `python -m experiments.<module> <flags>` (writes its synthetic set and feature
        cache) under its cache's lock, so that runs sharing a cache never write it at the same time."""
        module = importlib.import_module(f"experiments.{module}")
        config = module.experiment_config(module.parse_args(list(flags)))
        from pipelines.dataset import prepare

        with self.locked("cache-" + os.path.basename(config.data.cache_dir)):
            prepare(config.data)

    def build(self, name):
        """The folder of entry `name`, built first when no worker has built it yet."""
        if name in self._built:
            return self._built[name]
        entry = ENTRIES[name]
        for need in entry.needs:
            self.build(need)  # each under its own lock, never while holding this one
        folder = self.root / name
        failed = self.root / "failed" / f"{name}.txt"
        with self.locked(name):
            if failed.exists():
                raise RegistryError(f"registry entry {name!r} failed earlier in this session:\n{failed.read_text()}")
            if not (folder / DONE_FILE).exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                start = time.monotonic()
                try:
                    with _logged(folder / LOG_FILE):
                        self._build(entry, folder)
                except BaseException as error:
                    failed.parent.mkdir(exist_ok=True)
                    failed.write_text("".join(traceback.format_exception(error))[-6000:])
                    raise
                (folder / DONE_FILE).write_text(json.dumps({
                    "seconds": round(time.monotonic() - start, 1),
                    "worker": os.environ.get("PYTEST_XDIST_WORKER", "master")}) + "\n")
        self._built[name] = folder
        return folder

    def _build(self, entry, folder):
        if isinstance(entry, Tree):
            (folder / "data").mkdir()
            entry.write(folder / "data", *(self.tree(need) for need in entry.needs))
        elif isinstance(entry, Run):
            flags = self.run_flags(entry, folder)
            self.prepare(entry.module, flags)
            if entry.workers == 1:
                importlib.import_module(f"experiments.{entry.module}").main(flags)
            else:
                _launch(entry, flags, folder / WORKERS_LOG)
        else:
            entry.build(self, folder)

    def run_flags(self, entry, folder):
        """The full flags of Run `entry` in `folder`."""
        flags = [TREE_PLACEHOLDER.sub(lambda match: str(self.tree(match.group(1))), flag) for flag in entry.flags]
        return flags + ["--cache-dir", str(self.cache_dir(entry.cache)), "--output-dir", str(folder / "runs"),
                        "--saved-models-dir", str(folder / "saved"), "--run-name", entry.run_name]

    def tree(self, name):
        """The folder of data tree `name`."""
        return self.build(name) / "data"

    def run(self, name):
        """The TrainedRun `name`."""
        entry = ENTRIES[name]
        folder = self.build(name)
        return TrainedRun(name, folder, tuple(self.run_flags(entry, folder)), entry.run_name, entry.module)


def _launch(entry, flags, log):
    """Trains Run `entry` with `python -m experiments.launch_local --workers N`; the workers' output lines go to
    the file `log`. A status other than 0 raises RegistryError with the end of that output."""
    from experiments import launch_local

    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            launch_local.main(["--workers", str(entry.workers), "--timeout", "400", "--experiment", entry.module, "--",
                               *flags])
    except SystemExit as finished:
        status = finished.code
    else:
        status = 0
    log.write_text(output.getvalue())
    if status != 0:
        raise RegistryError(f"{entry.name}: launch_local exited with status {status}:\n{output.getvalue()[-4000:]}")


@contextlib.contextmanager
def _logged(path):
    """Copies every log record that reaches the root logger meanwhile to the file `path`."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def fake_finished_run(config, results):
    """Leaves in config.run_dir what a finished run of `config` leaves for its readers (`finished_results`,
    the table runners): identity.json (with the data's real hash: its cache is written when there is none),
    config.json, results.json and the report stage's completion record.
    Nothing is trained: for tests of what reads runs, not of training. Returns `results`."""
    from avtfuse.runs.folder import RunFolder, write_json
    from avtfuse.runs.plan import plan, stage_keys
    from pipelines.dataset import data_sha256

    folder = RunFolder(config.run_dir)
    folder.open({"config": config.identity(), "data_sha256": data_sha256(config.data)}, config.to_dict())
    write_json(folder.path("results.json"), results)
    folder.finish_stage("report", stage_keys(plan(config))["report"], {"results": folder.path("results.json")})
    return results


# --------------------------------------------------------------------------------------------------------------
# Data trees

def _write_ravdess(**settings):
    def write(folder):
        from pipelines.synthetic.ravdess import write_ravdess

        # Two emotions at strong intensity, 6 actors (the fewest the folds take): 8 takes per actor; fold 1 tests
        # actor 1, validates on actor 2 and trains on 3-6.
        write_ravdess(folder, actors=range(1, 7), emotions=("happy", "sad"), intensities=(2,), video_frames=8,
                      image_size=16, **settings)
    return write


register(Tree("ravdess-av", _write_ravdess(), doc="synthetic RAVDESS, 6 actors x 8 takes, audio and video"))
# 3 s of audio: CFN-SR's 2.45 s window from 0.5 s fits.
register(Tree("ravdess-av-3s", _write_ravdess(audio_seconds=3.0), doc="ravdess-av with 3 s of audio (CFN-SR)"))
register(Tree("ravdess-avt", _write_ravdess(thermal=True), doc="ravdess-av with thermal videos"))


def _copy_speech(folder, ravdess):
    """The audio-only files (03-*.wav) of a RAVDESS tree."""
    for wav in ravdess.rglob("03-*.wav"):
        (folder / wav.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wav, folder / wav.parent.name / wav.name)


register(Tree("ravdess-speech", _copy_speech, needs=("ravdess-avt",), doc="ravdess-avt's speech wavs alone"))


def _write_tones(folder):
    """A RAVDESS folder of speech wavs alone: 3 actors, each a tone of its own pitch, 8 takes."""
    import soundfile

    rng = np.random.default_rng(0)
    for actor in (1, 2, 3):
        actor_folder = folder / f"Actor_{actor:02d}"
        actor_folder.mkdir(parents=True)
        for emotion, statement, repetition in itertools.product((1, 3), (1, 2), (1, 2)):
            tone = np.sin(2 * np.pi * 150 * actor * np.arange(4000) / 8000) + 0.05 * rng.standard_normal(4000)
            name = f"03-01-{emotion:02d}-01-{statement:02d}-{repetition:02d}-{actor:02d}.wav"
            soundfile.write(actor_folder / name, 0.3 * tone, 8000)


register(Tree("ravdess-tones", _write_tones, doc="3 actors' speech wavs alone, a tone each"))


def _write_audio_thermal_manifest(folder):
    """A manifest of two modalities (audio, thermal; no visible column values) of 3 synthetic people."""
    from pipelines.manifest import write_manifest
    from pipelines.recording import Recording
    from pipelines.synthetic.speakingfaces import write_speakingfaces

    written = write_speakingfaces(folder / "sf", subjects=(1, 2, 3), trials=(1, 2), positions=(1,), commands=(1, 2),
                                  image_size=16, audio_seconds=0.5, frames_per_recording=1)
    recordings = [Recording(f"r{i}", str(w.subject), w.audio, None, w.thermal[0]) for i, w in enumerate(written)]
    write_manifest(recordings, str(folder / "manifest.csv"))


register(Tree("manifest-at", _write_audio_thermal_manifest, doc="a two-modality manifest (audio, thermal)"))

# --------------------------------------------------------------------------------------------------------------
# Runs

# The evaluation extras a run's tests do not read are left out: the reference is read from the AVTNet runs on the
# built-in set and on the espeak speech, the latency from the robustness benchmark's runs alone.
LEAN = ("--no-reference", "--no-latency")

# AVTNet runs on the built-in synthetic SpeakingFaces set

AVTNET_TINY = ("--synthetic-subjects", "4", "--image-size", "16", "--n-mels", "16", "--audio-seconds", "0.5",
               "--epochs-embed", "3", "--epochs-recognizer", "3", "--batch-size", "16", "--gpus", "1", "--verbose", "0")

register(Run("avtnet", "avtnet", (*AVTNET_TINY, "--synthetic-subjects", "8", "--held-out-people", "5,6,7,8",
                                   "--as-norm-top-k", "2", "--export", "litert,onnx",
                                   "--corruptions", "audio/noise", "--no-latency"),
             cache="speakingfaces-4", run_name="tiny",
             doc="AVTNet prop, three sensors, paper protocol, 3 + 3 epochs; people 5-8 held out (verification, with "
                 "AS-norm); its raw-input signature also exported as LiteRT and ONNX; evaluated under audio noise "
                 "(--corruptions, with the held-out people's EER)"))
# The run with specialists is also the uninterrupted run that tests/training/test_resume.py's killed and resumed run
# must end as: its shapes are the tiniest that run (3 people, 8 x 8 frames, 8 mels, 0.1 s), and its 2 + 3 epochs
# leave a checkpoint to resume from inside each phase.
AVTNET_SPECIALISTS = (
    "--synthetic-subjects", "3", "--modalities", "audio,thermal", "--image-size", "8", "--n-mels", "8",
    "--audio-seconds", "0.1", "--epochs-embed", "2", "--epochs-recognizer", "3", "--batch-size", "8", "--gpus", "0",
    "--protocol", "strict", "--specialist-branches", "--single-sensor", "specialist", "--no-latency", "--verbose", "0")
register(Run("avtnet-specialists", "avtnet", AVTNET_SPECIALISTS, cache="speakingfaces-3", run_name="fused",
             doc="AVTNet on audio + thermal, strict protocol: specialists first, branches from them, lone sensor "
                 "answered by its specialist; the uninterrupted run of the kill-and-resume test"))
# python -m experiments.avtnet --sweep augment=none,strong on the tones: two runs on one split. Its first run is also
# the run on a RAVDESS folder of speech alone (tests/experiments/test_avtnet_run.py).
register(Run("avtnet-sweep", "avtnet", (
    "--data", "{tree:ravdess-tones}", "--protocol", "strict", "--n-mels", "16", "--audio-seconds", "0.4",
    "--epochs-embed", "1", "--epochs-recognizer", "1", "--batch-size", "4", "--gpus", "0", "--verbose", "0", *LEAN,
    "--sweep", "augment=none,strong"), cache="ravdess-tones", run_name="tones",
    doc="AVTNet on the tones, swept over --augment none and strong (TrainedRun.run_dir: not a run; "
        "runs/sweep-tones-augment.json and runs/tones-augment-<value>)"))

ESPEAK = os.environ.get("AVTFUSE_ESPEAK_DIR", "/work/shared/data/espeak_speakers")
register(Run("avtnet-espeak", "avtnet", (
    "--data", os.path.join(ESPEAK, "manifest.csv"), "--modalities", "audio", "--epochs-embed", "1",
    "--epochs-recognizer", "1", "--gpus", "0", "--verbose", "0", "--no-latency"), cache="espeak", run_name="espeak",
    doc="AVTNet on real-format speech files (skipped where the espeak set is absent)"))

# Each of the paper's baselines on the two-modality manifest (tests/experiments/test_variants.py). prop-3 is trained
# by two local workers: it is also the run of launch_local's two-worker test (tests/experiments/test_launch_local.py),
# the smallest two-phase run with the cross-worker mining of the missing-modality loss. Last, so that the variants
# test reads it after the other worker has trained it.
VARIANT_EXTRA = {"prop": ("--sampler", "pk", "--people-per-batch", "3"), "prop-1": ("--modality-dropout", "0.3"),
                 "prop-2": (), "e2e": (), "jer-1": (), "jer-2": (), "dense-triplet": (), "prop-3": ()}
VARIANT_WORKERS = {"prop-3": 2}
for _variant, _extra in VARIANT_EXTRA.items():
    register(Run(f"avtnet-variant-{_variant}", "avtnet", (
        "--data", "{tree:manifest-at}/manifest.csv", "--thermal-palette", "iron", "--modalities", "audio,thermal",
        "--variant", _variant, "--image-size", "16", "--n-mels", "8", "--audio-seconds", "0.1", "--epochs-embed", "1",
        "--epochs-recognizer", "1", "--batch-size", "6", "--gpus", "0", "--verbose", "0", *LEAN, *_extra),
        cache="manifest-at", run_name=_variant, workers=VARIANT_WORKERS.get(_variant, 1),
        doc=f"AVTNet variant {_variant} on the audio + thermal manifest"))

# --------------------------------------------------------------------------------------------------------------
# The sequence systems on synthetic RAVDESS trees

# 3 epochs: the ramp ends after epoch 2 and GFA + LFI count from epoch 2, so every loss term trains. At 8 epochs the
# kept (best validation UA) epoch was 1 (val UA 1.0) and each epoch is a function of (seed, epoch): the tested model
# is the same. Most of the run's time is graph building: d = 32, one MRAU layer, one layer per LFI decoder and 32
# features per frame (with the small preset's 64, 2, 2 and 64 the run created about 72,000 graph ops).
register(Run("mct_hfr", "mct_hfr", (
    "--data", "{tree:ravdess-av}", "--modalities", "audio,visible", "--image-size", "16", "--epochs-embed", "3",
    "--batch-size", "8", "--ramp-epochs", "2", "--missing-rates", "0,0.5", "--units", "32", "--layers", "1",
    "--decoder-layers", "1", "--frame-units", "32", "--gpus", "0", "--verbose", "0", *LEAN),
    cache="ravdess-av", run_name="hfr", doc="MCT-HFR, audio + video, missing rates 0 and 0.5"))

# Frames of 16 x 16 and batches of 16. Most of the run is the 3-D encoder's training steps, and with oneDNN off (as
# the suite runs, tests/conftest.py) TensorFlow's own 3-D convolution gradients take about 3.6 s a step at 32 x 32
# and 1.85 s at 16 x 16 (batch 8 is no faster: 3.4 s at 32 x 32); the run takes 43 s instead of 90 s. 2
# pre-training and 5 fusion epochs: fusion keeps epoch 4 (validation accuracy 1.0, complete test accuracy 1.0; at
# 32 x 32 epoch 4 too).
CFN_SR_TINY = ("--data", "{tree:ravdess-av-3s}", "--image-size", "16", "--epochs-embed", "2", "--epochs-recognizer",
               "5", "--batch-size", "16", "--gpus", "0", "--verbose", "0", *LEAN)
# the audio transformer cut to one layer with a feed-forward width of 64 (the preset's 5 and 256): less graph to build
register(Run("cfn_sr", "cfn_sr", (*CFN_SR_TINY, "--transformer-layers", "1", "--transformer-ff", "64"),
             cache="ravdess-av-3s", run_name="strict",
             doc="CFN-SR, strict selection (validation actors)"))
# without the audio transformer, which takes most of a tiny run's graph building
register(Run("cfn_sr-paper", "cfn_sr", (
    *CFN_SR_TINY, "--selection", "paper", "--variant", "no_self_attention", "--epochs-embed", "1",
    "--epochs-recognizer", "2"), cache="ravdess-av-3s", run_name="paper",
    doc="CFN-SR without self-attention, paper selection (best test epoch)"))

# 4 epochs (the learning rate steps at epochs 8 and 9 of the preset come later). Widths an eighth of the paper's
# (SA_FUSION_SIZES): 8 frame filters and 16 features per frame, audio blocks 8, 16, 32, 16 and visual blocks 8, 8,
# 16, 16 wide, an LT width of 16 (4 heads divide each).
SA_FUSION_SIZES = ("--frame-filters", "8", "--frame-units", "16", "--audio-width", "8", "--visual-width", "8",
                   "--lt-units", "16")
SA_FUSION_TINY = ("--data", "{tree:ravdess-avt}", "--image-size", "16", "--epochs-embed", "4", *SA_FUSION_SIZES,
                  "--gpus", "0", "--verbose", "0", *LEAN)
# With --single-sensor specialist: the same fused model (seeded alike, trained after its specialists) serves the
# tests of the fused run and those of the fallback on the specialists; the plain model's export is checked on the
# robustness benchmark's three-sensor run.
register(Run("sa_fusion", "sa_fusion", (*SA_FUSION_TINY, "--single-sensor", "specialist"), cache="ravdess-avt",
             run_name="ia1", doc="SA-fusion IA1 with softhard dropout, audio + video; each lone sensor answered by "
                                 "its specialist"))
register(Run("sa_fusion-noise", "sa_fusion", (
    *SA_FUSION_TINY, "--fusion", "lt", "--heads", "4", "--dropout", "noise", "--epochs-embed", "1"),
    cache="ravdess-avt", run_name="lt4", doc="SA-fusion LT4 with noise for the missing modality"))
register(Run("sa_fusion-speech", "sa_fusion", (
    "--data", "{tree:ravdess-speech}", "--image-size", "16", "--epochs-embed", "1", *SA_FUSION_SIZES, "--gpus", "0",
    "--verbose", "0", *LEAN),
    cache="ravdess-avt", run_name="speech", doc="SA-fusion on a folder of speech alone (no modality dropout)"))


# python -m experiments.robustness: SA-fusion without and with modality dropout on three sensors, one seed, two
# rates. Its sa_fusion-seed0 run is also the three-sensor SA-fusion run of tests/experiments/test_sa_fusion_run.py.
# Its runs measure the latency (the benchmark's cost table reads it) but leave out the scikit-learn reference, which
# neither the benchmark nor a test reads.
ROBUSTNESS_SYSTEMS = "sa_fusion-none,sa_fusion"  # one feature cache for both: the cheapest pair
ROBUSTNESS_CORRUPTIONS = "audio/noise,visible/low_light"  # the degraded axis: corrupted caches shared by both runs


def robustness_argv(registry, folder):
    return ["--systems", ROBUSTNESS_SYSTEMS, "--seeds", "0", "--missing-rates", "0,0.5", "--corruptions",
            ROBUSTNESS_CORRUPTIONS, "--output-dir",
            str(folder / "bench"), "--", "--data", str(registry.tree("ravdess-avt")), "--thermal-palette", "inferno",
            "--cache-dir", str(registry.cache_dir("ravdess-avt")), "--image-size", "16", "--epochs-embed", "1",
            "--epochs-recognizer", "1", *SA_FUSION_SIZES, "--no-reference", "--gpus", "0", "--verbose", "0"]


def _robustness(registry, folder):
    from experiments import robustness

    argv = robustness_argv(registry, folder)
    args, passthrough = robustness.parse_args(argv)
    for system in ROBUSTNESS_SYSTEMS.split(","):
        module = robustness.LINEUP[system][0]
        registry.prepare(module, robustness.run_argv(args, system, 0, passthrough))
    robustness.main(argv)


register(Composite("robustness", _robustness, needs=("ravdess-avt",),
                   doc="python -m experiments.robustness: SA-fusion none and softhard, three sensors, rates 0, 0.5, "
                       "audio noise and visible low light"))
