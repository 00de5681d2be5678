"""A run's plan: its stages decided from the config alone, their keys, --plan's listing and --redo."""

import pytest

from avtfuse.runs import build_experiment, plan, plan_text, run_experiment
from avtfuse.runs.driver import forget_from
from avtfuse.runs.folder import RunFolder
from avtfuse.runs.plan import stage_keys


def robust(tmp_path, **changes):
    """The README's recommended robust command's config."""
    return build_experiment("avtnet", data={"protocol": "strict", "ablation": "subsets", **changes},
                            model={"joint_tokens": "present", "bn_neck": "all"}, specialist_branches=True,
                            single_sensor="specialist", output_dir=str(tmp_path))


def names(config):
    return [stage.name for stage in plan(config)]


def test_the_recommended_robust_command_plans_specialists_fused_evaluation_export_report(tmp_path):
    assert names(robust(tmp_path)) == [
        "data", "specialist-audio", "specialist-visible", "specialist-thermal", "fused", "evaluate", "reference",
        "specialists", "calibration", "export", "latency", "report"]
    stages = {stage.name: stage for stage in plan(robust(tmp_path))}
    assert set(stages["fused"].needs) == {"data", "specialist-audio", "specialist-visible", "specialist-thermal"}
    assert stages["fused"].trains and stages["specialist-audio"].trains and not stages["evaluate"].trains
    plain = build_experiment("avtnet", output_dir=str(tmp_path))
    assert names(plain) == ["data", "fused", "evaluate", "reference", "calibration", "export", "latency", "report"]
    assert set(stages["export"].needs) == {"fused", "specialist-audio", "specialist-visible", "specialist-thermal",
                                           "calibration"}
    assert "specialist-audio" not in plan(plain)[1].needs
    assert "rate-sweep" in names(robust(tmp_path, missing_rates=(0.0, 0.5)))


def test_the_reference_and_latency_stages_are_left_out_on_request_and_the_trained_stages_keep_their_keys(tmp_path):
    lean = build_experiment("avtnet", output_dir=str(tmp_path), specialists=True, reference=False, latency=False)
    assert names(lean) == ["data", "specialist-audio", "specialist-visible", "specialist-thermal", "fused",
                           "evaluate", "specialists", "calibration", "export", "report"]
    assert {stage.name: stage for stage in plan(lean)}["specialists"].needs == (
        "evaluate", "specialist-audio", "specialist-visible", "specialist-thermal")
    full = stage_keys(plan(lean.replace(reference=True, latency=True)))
    assert {name: key for name, key in stage_keys(plan(lean)).items() if name not in ("specialists", "report")} == {
        name: full[name] for name in names(lean) if name not in ("specialists", "report")}


def test_a_setting_changes_the_keys_of_the_stages_that_read_it_alone(tmp_path):
    before = stage_keys(plan(robust(tmp_path, missing_rates=(0.0, 0.5))))
    after = stage_keys(plan(robust(tmp_path, missing_rates=(0.0, 0.25))))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"rate-sweep", "report"}
    noise = stage_keys(plan(robust(tmp_path, corruptions="audio/noise")))
    blur = stage_keys(plan(robust(tmp_path, corruptions="audio/noise,visible/gaussian_blur")))
    assert {name for name in noise if noise[name] != blur[name]} == {"corruptions", "report"}
    assert noise["fused"] == stage_keys(plan(robust(tmp_path)))["fused"]  # an evaluation setting: nothing retrains
    retrained = stage_keys(plan(robust(tmp_path).replace(train=robust(tmp_path).train.replace(seed=1))))
    base = stage_keys(plan(robust(tmp_path)))
    assert {name for name in base if base[name] != retrained[name]} == set(base) - {"data"}


def test_held_out_people_add_the_verification_stage_keyed_by_its_settings_alone(tmp_path):
    held = robust(tmp_path, held_out_people=4)
    assert names(held)[-6:] == ["specialists", "verification", "calibration", "export", "latency", "report"]
    assert "verification" not in names(robust(tmp_path))
    before = stage_keys(plan(held))
    trials = tmp_path / "trials.txt"
    trials.write_text("1 a b\n")
    for verification in ({"as_norm_top_k": 3}, {"trials": str(trials)}):
        after = stage_keys(plan(held.replace(verification=held.verification.replace(**verification))))
        assert {name for name in before if before[name] != after[name]} == {"verification", "report"}, verification
    after = stage_keys(plan(held.replace(verification=held.verification.replace(target_far=0.05))))
    assert {name for name in before if before[name] != after[name]} == {
        "verification", "calibration", "export", "latency", "report"}  # the exported thresholds change
    edited = stage_keys(plan(held.replace(verification=held.verification.replace(trials=str(trials)))))
    trials.write_text("1 a b\n0 a c\n")  # the list changed on disk: the stage is pending again
    assert stage_keys(plan(held.replace(verification=held.verification.replace(trials=str(trials)))))[
        "verification"] != edited["verification"]


def test_plan_text_lists_each_stage_done_or_pending(tmp_path):
    config = robust(tmp_path)
    stages = plan(config)
    keys = stage_keys(stages)
    folder = RunFolder(config.run_dir)
    folder.finish_stage("data", keys["data"], {})
    folder.finish_stage("specialist-audio", "another key", {})
    lines = plan_text(config).splitlines()
    assert lines[0] == f"plan of {config.run_dir}:" and len(lines) == len(stages) + 1
    assert "data" in lines[1] and lines[1].split()[2] == "done"
    assert "specialist-audio" in lines[2] and "pending (settings changed)" in lines[2]
    assert all(line.split()[2] == "pending" for line in lines[3:])


def test_redo_forgets_a_stage_and_those_after_it(tmp_path):
    config = robust(tmp_path)
    stages = plan(config)
    keys = stage_keys(stages)
    folder = RunFolder(config.run_dir)
    for stage in stages:
        folder.finish_stage(stage.name, keys[stage.name], {})
    checkpoints = tmp_path / config.run_name / "checkpoints" / "embeddings"
    checkpoints.mkdir(parents=True)
    (tmp_path / config.run_name / "embeddings.done").write_text("")
    forget_from(stages, "evaluate", folder)
    done = [stage.name for stage in stages if folder.is_done(stage.name, keys[stage.name])]
    assert done == ["data", "specialist-audio", "specialist-visible", "specialist-thermal", "fused"]
    assert checkpoints.exists()
    forget_from(stages, "fused", folder)
    assert not checkpoints.exists() and not (tmp_path / config.run_name / "embeddings.done").exists()
    assert folder.is_done("specialist-thermal", keys["specialist-thermal"])


def test_redo_names_the_stages_of_the_run(tmp_path):
    with pytest.raises(ValueError, match="--redo: 'training' is not a stage of this run; its stages: data, fused"):
        run_experiment(build_experiment("avtnet", output_dir=str(tmp_path)), redo="training")
