"""--check-data (pipelines/data_check.py) through an entry point: every problem, the counts per condition and per
person as the manifest's cells say, nothing trained, no run folder."""

import csv

import cv2
import numpy as np
import pytest
import soundfile

from avtfuse.contract import MODALITIES
from experiments import avtnet

# Which sensors a row holds -> its condition, written out by hand.
CONDITIONS = {(1, 1, 1): "complete", (0, 1, 1): "missing_audio", (1, 0, 1): "missing_visible",
              (1, 1, 0): "missing_thermal", (1, 0, 0): "only_audio", (0, 1, 0): "only_visible",
              (0, 0, 1): "only_thermal"}


def write_manifest_with_gaps(folder, rows=14):
    """A manifest of three people whose rows leave some cells empty (a seeded pattern), plus one row whose wav is
    empty (0 bytes). Returns (csv path, the [R, 3] 0/1 array of the good rows' non-empty cells, their people)."""
    rng = np.random.default_rng(3)
    lines = [["person", "recording", *MODALITIES]]
    for index in range(rows):
        present = rng.integers(0, 2, 3) if index >= 3 else np.eye(3, dtype=int)[index]
        present[rng.integers(0, 3)] = 1  # every row holds some sensor
        cells = []
        if present[0]:
            soundfile.write(folder / f"r{index}.wav", 0.1 * rng.standard_normal(800), 8000)
            cells.append(f"r{index}.wav")
        else:
            cells.append("")
        for modality, channels in (("visible", 3), ("thermal", 1)):
            name = f"r{index}_{modality}.png"
            if present[MODALITIES.index(modality)]:
                cv2.imwrite(str(folder / name), rng.integers(0, 256, (8, 8, channels)[:2 if channels == 1 else 3],
                                                             dtype=np.uint8))
            cells.append(name if present[MODALITIES.index(modality)] else "")
        lines.append([f"p{index % 3}", f"r{index}", *cells])
    (folder / "empty.wav").write_bytes(b"")
    lines.append(["p0", "bad", "empty.wav", "", ""])
    with open(folder / "m.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(lines)
    table = np.array(lines[1:-1])
    return folder / "m.csv", (table[:, 2:] != "").astype(int), table[:, 0]


def section(out, title):
    """The indented lines under `title` in --check-data's report, split into fields."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        rows.append(line.split())
    return rows


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_check_data_lists_the_bad_file_and_counts_what_the_manifest_holds(tmp_path, capsys, on_error):
    data = tmp_path / "data"
    data.mkdir()
    manifest, cells, people = write_manifest_with_gaps(data)
    flags = ["--check-data", "--data", str(manifest), "--thermal-palette", "grey", "--on-error", on_error,
             "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(tmp_path / "runs"), "--verbose", "0"]
    if on_error == "raise":  # bad input would stop the run: status 1, after the report
        with pytest.raises(SystemExit) as info:
            avtnet.main(flags)
        assert info.value.code == 1
    else:
        avtnet.main(flags)
    out = capsys.readouterr().out
    assert [" ".join(line) for line in section(out, "problems:")] == [f"{data / 'empty.wav'}: empty audio file (0 bytes)"]
    patterns, counts = np.unique(cells, axis=0, return_counts=True)
    expected = {CONDITIONS[tuple(p)]: int(c) for p, c in zip(patterns, counts)}
    assert {name: int(count) for name, count in section(out, "recordings per condition:")} == expected
    header, *rows = section(out, "recordings per person")
    assert header == ["person", "recordings", *MODALITIES]
    expected = {person: [int((people == person).sum()), *cells[people == person].sum(axis=0).tolist()]
                for person in set(people)}
    assert {row[0]: [int(n) for n in row[1:]] for row in rows} == expected
    assert ("not usable" in out) == (on_error == "raise")
    assert not (tmp_path / "runs").exists()  # nothing trained, no run folder


def test_check_data_counts_the_files_recordings_share_and_what_each_protocol_does(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    manifest, cells, people = write_manifest_with_gaps(data)
    rows = list(csv.reader(open(manifest)))[1:-1]  # the good rows, without the one with the empty wav
    # two more recordings of p0 that reuse the first p0 row's thermal frame (one enrolment frame, many clips)
    donor = next(row for row in rows if row[0] == "p0" and row[4])
    for index in (1, 2):
        soundfile.write(data / f"extra{index}.wav", 0.1 * np.random.default_rng(index).standard_normal(800), 8000)
        rows.append(["p0", f"extra{index}", f"extra{index}.wav", "", donor[4]])
    with open(manifest, "w", newline="") as handle:
        csv.writer(handle).writerows([["person", "recording", *MODALITIES], *rows])
    avtnet.main(["--check-data", "--data", str(manifest), "--thermal-palette", "grey", "--cache-dir",
                 str(tmp_path / "cache"), "--output-dir", str(tmp_path / "runs"), "--verbose", "0"])
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.startswith("shared files:")]
    assert line.startswith("shared files: 1 files named by 3 recordings")
    assert f"({len(rows)} groups -> {len(rows) - 2})" in out  # each row its own group, the three joined
    assert "problems: none" in out and not (tmp_path / "runs").exists()


def test_check_data_names_the_people_it_would_hold_out_or_why_it_cannot(tmp_path, capsys):
    from pipelines import held_out

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    lines = [["person", "recording", "audio"]]
    for person in range(1, 7):
        for take in range(4):
            soundfile.write(data / f"{person}-{take}.wav", 0.1 * rng.standard_normal(800), 8000)
            lines.append([str(person), f"{person}-{take}", f"{person}-{take}.wav"])
    with open(data / "m.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(lines)
    flags = ["--check-data", "--data", str(data / "m.csv"), "--modalities", "audio", "--held-out-people", "4",
             "--seed", "3", "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(tmp_path / "runs"),
             "--verbose", "0"]
    avtnet.main([*flags, "--enrol-per-person", "2"])
    out = capsys.readouterr().out
    validation, test = held_out.choose_people([str(p) for p in range(1, 7)], 4, 3)
    assert f"held out: validation people {', '.join(validation)}; test people {', '.join(test)}" in out
    assert out.rstrip().endswith("usable: no bad input")
    avtnet.main([*flags, "--enrol-per-person", "4"])  # 4 recordings each: 5 groups are needed
    out = capsys.readouterr().out
    assert "held out: cannot be: --held-out-people: each held-out person needs 5 recording groups" in out
    assert out.rstrip().endswith("not usable: the held-out people above") and not (tmp_path / "runs").exists()
