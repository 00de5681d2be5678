"""Kill -9 and resume: a run with specialists killed inside a specialist stage, between two stages and in the
fused model's phases, started again each time, ends as an uninterrupted run does. The uninterrupted run is the
registry's avtnet-specialists (tests/registry.py): only the killed and resumed run is trained here, with its flags."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from tests.registry import ENTRIES, TrainedRun

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = "avtnet-specialists"  # two sensors, 2 + 3 epochs, tiny shapes: see its comment in tests/registry.py
MODALITIES = ("audio", "thermal")


def start(args, log):
    """Starts a command in the repository, its stderr (the log) going to the file `log`."""
    with open(log, "w") as stderr:
        return subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr)


def kill_after(args, marker, log, delay=0.0, timeout=300):
    """Starts a command, kills it with SIGKILL `delay` seconds after the file `marker` appears; returns its log."""
    process = start(args, log)
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the run ended (status {process.returncode}) or timed out before writing {marker}:\n"
                            + log.read_text()[-3000:])
            time.sleep(0.02)
        time.sleep(delay)
        assert process.poll() is None, f"the run finished within {delay} s of writing {marker}: nothing to resume"
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    return log.read_text()


def run_to_end(args, log, timeout=300):
    """Runs a command to completion; returns its log."""
    process = start(args, log)
    try:
        assert process.wait(timeout) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    return log.read_text()


def checkpoint_epochs(run_dir, phase):
    """The epochs of the phase's whole checkpoints in the run folder."""
    folder = run_dir / "checkpoints" / phase
    names = os.listdir(folder) if folder.is_dir() else []
    return sorted(int(name[6:10]) for name in names if name.startswith("epoch-"))


def h5_arrays(path):
    """Every dataset of an HDF5 file (weights and optimizer state): {name: array}."""
    arrays = {}

    def collect(name, item):
        if isinstance(item, h5py.Dataset):
            arrays[name] = item[()]

    with h5py.File(path, "r") as handle:
        handle.visititems(collect)
    return arrays


def results(run):
    """The results.json of TrainedRun `run` less the paths that name the run's own folders."""
    values = run.results()
    assert values.pop("saved_model") == str(run.saved_model)
    assert values.pop("split") == str(run.run_dir / "split.csv")
    assert values.pop("specialist_runs") == {m: str(run.specialist_dir(m)) for m in MODALITIES}
    return values


def kill_four_times(args, run, logs):
    """Kills TrainedRun `run` (its command `args`) inside its audio specialist's first phase, then as the thermal
    specialist's stage is recorded (between two stages), then in epoch 2 of the fused model's first phase and in its
    second phase, restarting it each time and finally to the end. Returns {"specialist"/"between"/"first"/"second":
    (the killed phase's checkpoint epochs at the kill, or None, log of the restart)}."""
    run_dir, specialist = run.run_dir, run.specialist_dir("audio")
    kill_after(args, specialist / "checkpoints" / "embeddings" / "epoch-0001.weights.h5", logs / "b-1.log")
    assert not (specialist / "embeddings.done").exists(), "killed after the specialist's first phase had finished"
    inside = checkpoint_epochs(specialist, "embeddings")
    log = kill_after(args, run_dir / "stages" / "specialist-thermal.json", logs / "b-2.log")
    seen = {"specialist": (inside, log)}
    assert not (run_dir / "embeddings.done").exists(), "killed after the fused model's first phase had finished"
    log = kill_after(args, run_dir / "checkpoints" / "embeddings" / "epoch-0001.weights.h5", logs / "b-3.log",
                     delay=0.3)
    seen["between"] = (None, log)
    assert not (run_dir / "embeddings.done").exists(), "killed after the first phase had finished"
    first = checkpoint_epochs(run_dir, "embeddings")
    log = kill_after(args, run_dir / "checkpoints" / "recognizer" / "epoch-0001.weights.h5", logs / "b-4.log")
    seen["first"] = (first, log)
    assert not (run_dir / "recognizer.done").exists(), "killed after the second phase had finished"
    second = checkpoint_epochs(run_dir, "recognizer")
    seen["second"] = (second, run_to_end(args, logs / "b-5.log"))
    return seen


@pytest.fixture(scope="module")
def runs(registry, tmp_path_factory):
    """The registry's uninterrupted run and, beside it, the same run killed four times (see `kill_four_times`) on
    the same feature cache, trained here in a subprocess with the registry run's flags (and --verbose 1 for its log).

    Returns (the uninterrupted TrainedRun, the resumed TrainedRun, what `kill_four_times` saw).
    """
    entry = ENTRIES[REFERENCE]
    root = tmp_path_factory.mktemp("resume")
    flags = [*registry.run_flags(entry, root), "--verbose", "1"]
    registry.prepare(entry.module, flags)  # the shared cache, before the killed run first starts
    resumed = TrainedRun("resumed", root, tuple(flags), entry.run_name, entry.module)
    seen = kill_four_times([sys.executable, "-m", f"experiments.{entry.module}", *flags], resumed, root)
    return registry.run(REFERENCE), resumed, seen


def test_kill_in_a_specialist_stage_resumes_from_its_checkpoint(runs):
    _, resumed, seen = runs
    epochs, log = seen["specialist"]
    assert epochs and epochs[-1] in (1, 2)
    assert f"embeddings: resuming after epoch {epochs[-1]}" in log
    assert "stage specialist-audio" in log and (resumed.run_dir / "stages" / "specialist-audio.json").exists()


def test_kill_between_two_stages_goes_on_with_the_next(runs):
    _, _, seen = runs
    _, log = seen["between"]
    assert "stage specialist-audio" not in log and "stage specialist-thermal" not in log
    assert "stage fused" in log


def test_kill_in_the_first_phase_resumes_from_its_checkpoint(runs):
    _, resumed, seen = runs
    epochs, log = seen["first"]
    assert epochs and epochs[-1] in (1, 2)
    assert f"embeddings: resuming after epoch {epochs[-1]}" in log
    assert (resumed.run_dir / "embeddings.done").exists()


def test_kill_in_the_second_phase_resumes_from_its_checkpoint(runs):
    _, _, seen = runs
    epochs, log = seen["second"]
    assert epochs and epochs[-1] in (1, 2, 3)
    assert f"recognizer: resuming after epoch {epochs[-1]}" in log
    assert "embeddings: epochs" not in log and "embeddings: resuming" not in log


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(runs):
    uninterrupted, resumed, _ = runs
    for checkpoint in ("embeddings/epoch-0002.weights.h5", "recognizer/epoch-0003.weights.h5"):
        expected = h5_arrays(uninterrupted.run_dir / "checkpoints" / checkpoint)
        got = h5_arrays(resumed.run_dir / "checkpoints" / checkpoint)
        assert sorted(got) == sorted(expected) and any(name.startswith("optimizer") for name in got)
        for name, array in expected.items():
            np.testing.assert_array_equal(got[name], array, err_msg=f"{checkpoint}: {name}")


def test_resumed_run_gives_the_results_of_an_uninterrupted_one(runs):
    uninterrupted, resumed, _ = runs
    assert results(resumed) == results(uninterrupted)
