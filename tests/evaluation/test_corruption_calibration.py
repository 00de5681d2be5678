"""avtfuse.evaluation.corruption_calibration: the calibration table against a hand computation on a small case,
and the picture sheet's grid."""

import numpy as np
from PIL import Image

from avtfuse.evaluation.corruption_calibration import CELL_INCHES, HEADER_INCHES, LABEL_INCHES, SHEET_DPI, \
    calibration_markdown, calibration_table, picture_sheet, sheet_size

# Ten test recordings (one is 0.1), chance 0.1: clean accuracy must reach 0.2.
RESULTS = {"toy": {"samples": 10, "chance": 0.1, "accuracy": {
    "audio": {"noise": [0.8, 0.7, 0.6, 0.5, 0.45, 0.4],       # 0.4 / 0.8 = 0.5: calibrated
              "reverb": [0.8, 0.8, 0.8, 0.8, 0.8, 0.6],       # 0.75: too weak
              "clipping": [0.8, 0.6, 0.7, 0.5, 0.4, 0.32],    # a rise of one recording is allowed; 0.4: calibrated
              "telephone": [0.8, 0.5, 0.7, 0.4, 0.4, 0.4]},   # a rise of two recordings: calibrated, not monotone
    "visible": {"jpeg": [1.0, 0.5, 0.3, 0.3, 0.2, 0.2],       # 0.2: too strong
                "occlusion": [0.15, 0.1, 0.1, 0.1, 0.1, 0.1]}},  # under twice chance
    "skipped": {"audio/babble": "one speaker"}}}


def test_table_ratios_monotone_flags_and_verdicts_match_a_hand_computation():
    rows = {row["corruption"]: row for row in calibration_table(RESULTS)}
    expected = {"noise": (0.5, True, "calibrated"), "reverb": (0.75, True, "too weak"),
                "clipping": (0.4, True, "calibrated"), "telephone": (0.5, False, "calibrated, not monotone"),
                "jpeg": (0.2, True, "too strong"), "occlusion": (0.1 / 0.15, True, "near chance")}
    assert set(rows) == set(expected)
    for name, (ratio, monotone, verdict) in expected.items():
        assert np.isclose(rows[name]["ratio"], ratio) and rows[name]["monotone"] == monotone, name
        assert rows[name]["verdict"] == verdict, name
    assert rows["jpeg"]["sensor"] == "visible" and rows["noise"]["accuracy"] == RESULTS["toy"]["accuracy"][
        "audio"]["noise"]
    markdown = calibration_markdown(list(rows.values()), RESULTS)
    assert "| toy | audio | noise | 80.0 | 70.0 | 60.0 | 50.0 | 45.0 | 40.0 | 0.50 | calibrated |" in markdown
    assert "10 complete test recordings, chance 10.0 %; audio/babble not measured: one speaker" in markdown


def test_sheet_is_one_row_per_corruption_and_one_column_per_severity(tmp_path):
    rng = np.random.default_rng(0)
    cells = {"visible/low_light": [rng.uniform(size=(8, 8, 3)) for _ in range(6)],
             "thermal/drift": [rng.uniform(size=(8, 8, 1)) for _ in range(6)],
             "audio/noise": [rng.normal(-40, 10, size=(12, 6)) for _ in range(6)]}
    path = tmp_path / "docs" / "new" / "sheet.png"  # a folder not made yet
    size = picture_sheet(cells, str(path))
    with Image.open(path) as image:
        assert image.size == size == sheet_size(3, 6)
        pixels = np.asarray(image.convert("RGB"))
    # Every cell's centre holds a picture (not the white page); the label column is white there.
    for row in range(3):
        y = round((HEADER_INCHES + (row + 0.5) * CELL_INCHES) * SHEET_DPI)
        for column in range(6):
            x = round((LABEL_INCHES + (column + 0.5) * CELL_INCHES) * SHEET_DPI)
            assert pixels[y - 2:y + 3, x - 2:x + 3].min() < 250, (row, column)
        assert pixels[y, 2].min() == 255
    assert sheet_size(3, 6)[0] > sheet_size(3, 5)[0] and sheet_size(4, 6)[1] > sheet_size(3, 6)[1]
