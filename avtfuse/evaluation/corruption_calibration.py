"""Calibration of the corruptions' severities against the single-sensor reference, and their picture sheet.

For a built-in set (`CALIBRATION_SETS`), the scikit-learn reference of each sensor (avtfuse.evaluation.reference:
MFCC statistics or 16 x 16 pixels -> logistic regression) is fitted on the clean training split, then scored on
the test split's complete recordings (pipelines.corruptions.features.complete_test_rows) clean (severity 0) and
under each corruption at severities 1..5, read from the corrupted caches every run meets (`corrupted_split`, the
same bytes; written once, read back when run again). The target: severity 5 keeps TARGET_RATIO of the clean
accuracy (roughly half), accuracy falling with severity.

`calibration_table` turns the accuracies into rows: per set, sensor and corruption, the accuracies at severities
0..5 (fractions), `ratio` = severity 5 / clean, `monotone` and a `verdict` (VERDICTS). `picture_sheet` draws one
recording's cached input (a frame, or a log-mel spectrogram with time across) per corruption (rows) and severity
0..5 (columns).
"""

import io
import json
import os
import time

import numpy as np
import tensorflow as tf

from avtfuse.evaluation.reference import reference_features, reference_model
from avtfuse.evaluation.report import markdown_table
from pipelines import cache
from pipelines.corruptions.features import complete_test_rows, corrupted_split
from pipelines.corruptions.seeding import SEVERITIES
from pipelines.dataset import DataConfig, prepare

# The built-in sets: DataConfig fields over its defaults (the default small feature shapes, 48 x 48 frames and a
# 1.5 s 64-band log-mel). SpeakingFaces layout: person classes, the strict protocol (no clean copy of a test
# recording in training, which the reference would recognise); RAVDESS layout with thermal: emotion classes, actor
# fold 1 of six actors, as the robustness benchmark reads it.
CALIBRATION_SETS = {
    "speakingfaces": {"synthetic": "speakingfaces", "protocol": "strict"},
    "ravdess": {"synthetic": "ravdess", "label": "emotion", "protocol": "folds", "synthetic_subjects": 6},
}
TARGET_RATIO = (0.35, 0.65)  # severity 5 accuracy / clean accuracy
VERDICTS = {
    "calibrated": "severity 5 keeps 0.35-0.65 of the clean accuracy",
    "too weak": "severity 5 keeps more than 0.65 of the clean accuracy",
    "too strong": "severity 5 keeps less than 0.35 of the clean accuracy",
    "near chance": "the clean accuracy is under twice chance: half of it would be chance or below",
}
NOT_MONOTONE = ", not monotone"  # appended to a verdict: accuracy rises by more than one test recording somewhere
SEVERITY_COLUMNS = (0, *SEVERITIES)


def calibration_data(name, cache_dir=None):
    """The SplitData of built-in set `name` (CALIBRATION_SETS), written under `cache_dir` (default the DataConfig's)
    when absent."""
    if name not in CALIBRATION_SETS:
        raise ValueError(f"--sets: unknown set {name!r}; use {', '.join(CALIBRATION_SETS)}")
    fields = dict(CALIBRATION_SETS[name], **({"cache_dir": cache_dir} if cache_dir else {}))
    return prepare(DataConfig(**fields))


def cached_inputs(path, rows, modality):
    """float32 [len(rows), *shape]: `modality`'s input of the records whose clean index is in `rows`, in `rows`
    order, read from the cache at `path` by random access (`cache.example_reader`); ValueError naming the cache
    when one is absent."""
    meta = cache.read_meta(path)
    held = set(meta.get("indices", range(meta["count"])))
    missing = [int(row) for row in rows if int(row) not in held]
    if missing:
        raise ValueError(f"{path}: holds no record of clean index {missing[0]} ({len(missing)} missing)")
    return cache.example_reader(path)(tf.constant(np.asarray(rows, np.int64)))[modality].numpy()


def calibrate(data, keys, seed, progress=print):
    """{"samples", "chance", "accuracy": {modality: {name: [accuracy at severity 0..5]}}, "skipped": {key: why}}
    of the reference on `data`'s complete test recordings under `keys` ("modality/name" of the data's sensors)
    with corruption seed `seed`; `progress` gets one line per corruption. `chance`: the test split's most frequent
    class share. Babble is skipped (and said why) when neither the test nor the validation recordings hold a
    speaker other than a probe's (pipelines.corruptions.features.babble_talkers)."""
    rows = complete_test_rows(data)
    if not len(rows):
        raise ValueError("the test split holds no complete recording to corrupt")
    labels = data.labels[rows]
    models, clean, accuracy, skipped = {}, {}, {}, {}
    for key in keys:
        modality, name = key.split("/")
        if modality not in models:
            train_inputs, train_labels = data.modality_arrays(modality, "train")
            models[modality] = reference_model(seed).fit(reference_features(modality, train_inputs), train_labels)
            clean[modality] = cached_inputs(data.cache_path, rows, modality)

        def score(inputs):
            return float(models[modality].score(reference_features(modality, inputs), labels))

        start, curve = time.time(), [score(clean[modality])]
        try:
            views = [corrupted_split(data, {modality: (name,)}, severity, seed) for severity in SEVERITIES]
        except ValueError as error:
            if name != "babble":
                raise
            skipped[key] = str(error)
            progress(f"{key}: not measured: {skipped[key]}")
            continue
        curve += [score(cached_inputs(view.cache_path, rows, modality)) for view in views]
        accuracy.setdefault(modality, {})[name] = curve
        progress(f"{key}: accuracy {' '.join(f'{value:.3f}' for value in curve)} (severity 0-5), "
                 f"{time.time() - start:.1f} s")
    chance = float(np.max(np.bincount(labels)) / len(labels))
    return {"samples": int(len(rows)), "chance": chance, "accuracy": accuracy, "skipped": skipped}


def calibration_table(results, target=TARGET_RATIO):
    """Rows {"set", "sensor", "corruption", "accuracy" [6], "ratio", "monotone", "verdict"} of `results` ({set:
    `calibrate`'s dict}). ratio: severity 5 / clean (None when clean is 0); monotone: no step up by more than one
    test recording (1 / samples); verdict: a key of VERDICTS, "near chance" first, else the ratio against `target`
    (inclusive), with NOT_MONOTONE appended where not monotone."""
    rows = []
    for set_name, result in results.items():
        step = 1.0 / result["samples"]
        for sensor, curves in result["accuracy"].items():
            for name, curve in curves.items():
                ratio = curve[-1] / curve[0] if curve[0] else None
                monotone = all(b <= a + step + 1e-12 for a, b in zip(curve, curve[1:]))
                if curve[0] < 2 * result["chance"]:
                    verdict = "near chance"
                else:
                    verdict = "too weak" if ratio > target[1] else "too strong" if ratio < target[0] else "calibrated"
                    verdict += "" if monotone else NOT_MONOTONE
                rows.append({"set": set_name, "sensor": sensor, "corruption": name, "accuracy": list(curve),
                             "ratio": ratio, "monotone": monotone, "verdict": verdict})
    return rows


def calibration_markdown(rows, results):
    """Markdown of `calibration_table` rows: accuracy in % at severities 0..5, the ratio and the verdict, under one
    line per set naming its complete test recordings, chance and the corruptions not measured. Ends with a
    newline."""
    lines = [f"- {name}: {result['samples']} complete test recordings, chance {100 * result['chance']:.1f} %" +
             "".join(f"; {key} not measured: {why}" for key, why in result.get("skipped", {}).items())
             for name, result in results.items()]
    table = [{"set": row["set"], "sensor": row["sensor"], "corruption": row["corruption"],
              **{str(s): 100.0 * value for s, value in zip(SEVERITY_COLUMNS, row["accuracy"])},
              "ratio": None if row["ratio"] is None else f"{row['ratio']:.2f}", "verdict": row["verdict"]}
             for row in rows]
    headers = {"0": "clean", "ratio": "sev 5 / clean"}
    columns = ["set", "sensor", "corruption", *map(str, SEVERITY_COLUMNS), "ratio", "verdict"]
    return "\n".join(lines) + "\n\n" + markdown_table(table, columns, headers, float_format="{:.1f}")


def sheet_cells(data, keys, seed):
    """{"modality/name": [6 arrays]}: the cached input of `data`'s first complete test recording clean and under
    each of `keys` at severities 1..5 (the caches `calibrate` wrote, or written now)."""
    row = complete_test_rows(data)[:1]
    cells = {}
    for key in keys:
        modality, name = key.split("/")
        paths = [data.cache_path] + [corrupted_split(data, {modality: (name,)}, s, seed).cache_path
                                     for s in SEVERITIES]
        cells[key] = [cached_inputs(path, row, modality)[0] for path in paths]
    return cells


CELL_INCHES = 0.8  # one picture's side
LABEL_INCHES = 1.6  # the row labels' column
HEADER_INCHES = 0.3  # the severity headings' row
SHEET_DPI = 80


def sheet_size(rows, columns):
    """(width, height) in pixels of a picture sheet of `rows` x `columns` pictures."""
    return (round((LABEL_INCHES + columns * CELL_INCHES) * SHEET_DPI),
            round((HEADER_INCHES + rows * CELL_INCHES) * SHEET_DPI))


def picture_sheet(cells, path):
    """Writes a PNG at `path` (256 colours): one row per entry of `cells` ({label: [pictures, one per severity
    0..]}), each picture a frame [H, W, C] in [0, 1] (C 1 shown grey) or a log-mel [frames, mels] (dB: time across,
    low bands at the bottom, each shown over its own range). Returns its (width, height) in pixels (`sheet_size`)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    from PIL import Image

    columns = max(len(pictures) for pictures in cells.values())
    width, height = sheet_size(len(cells), columns)
    figure = pyplot.figure(figsize=(width / SHEET_DPI, height / SHEET_DPI), dpi=SHEET_DPI)
    for r, (label, pictures) in enumerate(cells.items()):
        for c, picture in enumerate(pictures):
            left = (LABEL_INCHES + c * CELL_INCHES) * SHEET_DPI / width
            bottom = 1 - (HEADER_INCHES + (r + 1) * CELL_INCHES) * SHEET_DPI / height
            axes = figure.add_axes([left, bottom, 0.96 * CELL_INCHES * SHEET_DPI / width,
                                    0.96 * CELL_INCHES * SHEET_DPI / height])
            axes.set_xticks([]), axes.set_yticks([])
            picture = np.asarray(picture, np.float32)
            if picture.ndim == 2:
                axes.imshow(picture.T, origin="lower", aspect="auto", cmap="magma")
            else:
                shown = picture[:, :, 0] if picture.shape[-1] == 1 else picture
                axes.imshow(np.clip(shown, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            if r == 0:
                axes.set_title("clean" if c == 0 else f"severity {c}", fontsize=7)
            if c == 0:
                axes.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=SHEET_DPI)
    pyplot.close(figure)
    image = Image.open(buffer).convert("RGB").quantize(colors=256)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    image.save(path, optimize=True)
    return image.size


def sensor_keys(data, keys):
    """The corruption keys of `keys` ("modality/name") that fall on `data`'s sensors, in their order."""
    return tuple(key for key in keys if key.split("/")[0] in data.modalities)


def write_calibration(results, folder):
    """Writes calibration.json ({"target_ratio", "sets": results, "rows": calibration_table rows}) and
    calibration.md into `folder` (made when absent); returns the markdown."""
    os.makedirs(folder, exist_ok=True)
    rows = calibration_table(results)
    markdown = calibration_markdown(rows, results)
    with open(os.path.join(folder, "calibration.json"), "w") as f:
        json.dump({"target_ratio": list(TARGET_RATIO), "sets": results, "rows": rows}, f, indent=1)
    with open(os.path.join(folder, "calibration.md"), "w") as f:
        f.write(markdown)
    return markdown
