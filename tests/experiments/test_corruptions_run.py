"""The corruptions stage of a run (`--corruptions`, avtfuse.evaluation.corruptions) on the registry's AVTNet run:
results.json's "corruptions" section in the format the robustness benchmark reads, and its table in results.md."""

from avtfuse.evaluation.corruptions import TITLE


def test_corruptions_section_in_the_shared_format(registry):
    run = registry.run("avtnet")
    results = run.results()
    section = results["corruptions"]
    assert section["severities"] == [0, 1, 2, 3, 4, 5] and section["seed"] == 0
    assert {m: sorted(curves) for m, curves in section["curves"].items()} == {
        "audio": ["noise"], "all": ["every-sensor"]}
    # Severity 0 is the complete test recordings, clean: the run's complete condition, scored by the evaluate stage.
    # Its EER: the held-out test people's, every sensor enrolled and probed, as the verification stage scores them.
    complete = results["conditions"]["complete"]
    verified = results["verification"]["pairs"]["complete|complete"]["eer"]
    assert section["samples"] == complete["count"] > 0
    for curves in section["curves"].values():
        for entry in curves.values():
            assert len(entry["accuracy"]) == len(entry["eer"]) == 6
            assert all(0.0 <= value <= 1.0 for value in entry["accuracy"] + entry["eer"])
            assert abs(entry["accuracy"][0] - complete["accuracy"]) < 1e-9
            assert abs(entry["eer"][0] - verified) < 1e-9
    noise = section["curves"]["audio"]["noise"]["accuracy"]
    assert noise[5] != noise[0], noise  # noise at 0 dB SNR changes what the model answers
    report = (run.run_dir / "results.md").read_text()
    assert TITLE in report and "| audio | noise | eer |" in report.replace("  ", " ")
