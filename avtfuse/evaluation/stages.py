"""The evaluation stages of a run (see avtfuse.runs.plan): each a function of the RunState returning a JSON-ready
dict of outputs, reading the trained models from their run folders and the test split once.

single_sensor (--single-sensor best) -> evaluate_conditions -> reference -> compare_specialists -> rate_sweep ->
corruptions -> verification -> latency -> report.
"""

import csv
import io
import logging
import os
import time

import numpy as np

from avtfuse.contract import condition_name, load_class_names, LABELS_FILE
from avtfuse.evaluation.accuracy import headline_rows, per_condition_accuracy, predict_batches
from avtfuse.evaluation.corruptions import corruption_curves, corruptions_markdown
from avtfuse.evaluation.latency import serving_latency
from avtfuse.evaluation.metrics import classification_metrics
from avtfuse.evaluation.plots import plot_confusion_matrix, plot_det_curves, plot_robustness_curves
from avtfuse.evaluation.reference import reference_accuracy, reference_description
from avtfuse.evaluation.report import write_results
from avtfuse.evaluation.robustness import rate_sweep_markdown, rate_sweep_summary
from avtfuse.evaluation.single_sensor import sensor_choice, single_sensor_markdown
from avtfuse.evaluation.specialists import specialist_comparison, specialist_markdown
from avtfuse.evaluation.verification import (
    TRIAL_COLUMNS,
    Embedded,
    calibrations,
    embed,
    joined,
    listed_trials,
    subsets,
    training_cohort,
    verify,
)
from avtfuse.evaluation.verification_report import verification_markdown
from avtfuse.export import load_serving
from avtfuse.files import atomic_text
from avtfuse.runs.config import specialist_config
from avtfuse.runs.folder import write_json
from pipelines.step_masks import realised_missing_rate

logger = logging.getLogger(__name__)
PREDICTIONS_FILE = os.path.join("evaluation", "test_predictions.npz")
TIMING_FILE = "timing.json"
SINGLE_SENSOR_DIR = "single_sensor"  # the classical models --single-sensor best chose
RATE_SWEEP_TITLE = "Missing steps (complete test recordings, static masks)"


def split_accuracy(classifier, data, split, batch_size):
    """A classifier on one split: ({"conditions": accuracy per condition (by each sample's presence bits),
    "metrics": WA/UA/WF1/UF1 over the headline conditions}, (labels, predicted, present) [N], [N], [N, M])."""
    labels, predicted, present = predict_batches(classifier, data.batches(split, batch_size))
    headline = headline_rows(present, data.modalities)
    return {"conditions": per_condition_accuracy(labels, predicted, present, data.modalities),
            "metrics": classification_metrics(labels[headline], predicted[headline])}, (labels, predicted, present)


def single_sensor(state):
    """--single-sensor best: per sensor, the answer validation chooses for a sample holding it alone
    (avtfuse.evaluation.single_sensor.sensor_choice); a chosen classical model is saved in the run folder
    (SINGLE_SENSOR_DIR/<modality>-<kind>.keras). Outputs {modality: its choice, with a classical one's "path" and
    "classes" (the run label of each of its outputs)}."""
    data, config = state.data, state.config
    fused, outputs = state.fused_classifier(), {}
    for modality in data.modalities:
        specialist = state.load_classifier(specialist_config(config, modality).run_dir)
        choice, classical = sensor_choice(data, modality, fused, specialist, state.specialist_classes(modality),
                                          config.train.seed, config.train.batch_size)
        if classical is not None:
            model, classes = classical
            path = state.folder.path(SINGLE_SENSOR_DIR, f"{modality}-{choice['chosen']}.keras")
            if state.chief:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                model.save(path)
            choice.update(path=path, classes=[int(label) for label in classes])
        logger.info("%s alone: %s answers (validation accuracy %s on %d samples)", modality, choice["chosen"],
                    ", ".join(f"{name} {value:.3f}" for name, value in choice["validation"].items()
                              if value is not None) or "none", choice["samples"])
        outputs[modality] = choice
    return outputs


def evaluate_conditions(state):
    """The served model on the test split (`split_accuracy`); with a specialist fallback also the fused model's
    own accuracy per condition ("fused_alone"); "validation": the served model's `split_accuracy` on the
    validation split (None without one), what a choice between runs reads (`--sweep`). The test predictions go to
    evaluation/test_predictions.npz."""
    data, batch_size = state.data, state.config.train.batch_size
    logger.info("evaluating on %d test samples", data.count("test"))
    served = state.served_classifier()
    outputs, (labels, predicted, present) = split_accuracy(served, data, "test", batch_size)
    if state.chief:
        os.makedirs(state.folder.path("evaluation"), exist_ok=True)
        np.savez(state.folder.path(PREDICTIONS_FILE), labels=labels, predicted=predicted, present=present)
    outputs.update(fused_alone=None, validation=split_accuracy(served, data, "valid", batch_size)[0]
                   if data.count("valid") else None)
    if state.config.single_sensor != "fused" and len(data.modalities) > 1:
        outputs["fused_alone"] = per_condition_accuracy(
            *predict_batches(state.fused_classifier(), data.batches("test", batch_size)), data.modalities)
    return outputs


def reference(state):
    """The scikit-learn reference of each single-modality condition, trained on the split its specialist reads
    (`SplitData.modality_rows`): {"only_<m>": {"accuracy", "model_accuracy", "description", "train", "test",
    "test_seen_in_training"}} (accuracies as fractions; counts of recordings; under the paper protocol most
    test recordings have other copies, with the same file, in training, and a file shared by recordings may be
    on both sides: `test_seen_in_training` counts them, `SplitData.seen_in_training`)."""
    data, seed = state.data, state.config.train.seed
    conditions = state.stage_outputs("evaluate")["conditions"]
    references = {}
    for modality in data.modalities:
        name = condition_name([int(m == modality) for m in data.modalities], data.modalities)
        if name not in conditions:
            continue
        train_inputs, train_labels = data.modality_arrays(modality, "train")
        test_inputs, test_labels = data.modality_arrays(modality, "test")
        if len(set(train_labels)) < 2 or not len(test_labels):
            continue
        kind = modality if modality != "audio" or _audio_is_log_mel(data) else "audio features"
        references[name] = {
            "accuracy": reference_accuracy(kind, train_inputs, train_labels, test_inputs, test_labels, seed),
            "model_accuracy": conditions[name]["accuracy"],
            "description": reference_description(kind, train_inputs),
            "train": len(train_labels), "test": len(test_labels),
            "test_seen_in_training": data.seen_in_training(modality)}
    return references


def _audio_is_log_mel(data):
    """True when the audio input is the log-mel spectrogram the reference turns into MFCC statistics (not MFCCs,
    nor `.npy` features of their own shape, which it summarises as a feature sequence)."""
    features = data.config.features
    return features.audio_features == "log_mel" and tuple(data.shapes["audio"]) == features.shapes(["audio"])["audio"]


def references(state):
    """The reference stage's outputs ({} in a run without one)."""
    return state.stage_outputs("reference") if state.has_stage("reference") else {}


def compare_specialists(state):
    """Each specialist on its test split (the run's test samples holding its sensor alone) beside the served
    model's single-sensor condition and the reference (`specialist_comparison`), with the classes it lacks."""
    data, evaluated = state.data, state.stage_outputs("evaluate")
    specialist_conditions, seen, lacked = {}, {}, {}
    for modality in data.modalities:
        config, specialist_data = state.specialist(modality)
        labels, predicted, present = predict_batches(state.load_classifier(config.run_dir),
                                                     specialist_data.batches("test", config.train.batch_size))
        specialist_conditions[modality] = per_condition_accuracy(labels, predicted, present, (modality,))
        seen[modality] = data.seen_in_training(modality)
        lacked[modality] = data.num_people - specialist_data.num_people
    return specialist_comparison(evaluated["conditions"], references(state), specialist_conditions,
                                 data.modalities, evaluated["fused_alone"], seen, lacked)


def rate_sweep(state):
    """The test split's complete recordings (every sensor present) scored with each of the config's missing
    rates of their sequences' real steps missing (static masks; a single frame is one step):
    `rate_sweep_summary` plus "realised" {rate: {modality: share of real steps missing}} and "samples"."""
    data, classifier = state.data, state.served_classifier()
    labels_per_rate, predicted_per_rate, realised = [], [], {}
    for rate in state.config.data.missing_rates:
        batches = data.batches("test", state.config.train.batch_size, missing_rate=rate, complete_only=True)
        labels, predicted, _ = predict_batches(classifier, batches)
        if not len(labels):
            raise ValueError("missing_rates: the test split holds no complete recording to sweep the rates on")
        labels_per_rate.append(labels)
        predicted_per_rate.append(predicted)
        realised[rate] = realised_missing_rate(batches, data.modalities)  # complete recordings: no absence
    summary = rate_sweep_summary(state.config.data.missing_rates, labels_per_rate, predicted_per_rate)
    logger.info("missing-rate sweep: UA %s; AUILC UA %.4f (paper's un-normalised %.4f)",
                " ".join(f"{r:g}:{v:.3f}" for r, v in zip(summary["rates"], summary["metrics"]["UA"])),
                summary["auilc"]["UA"], summary["auilc_paper"]["UA"])
    return {**summary, "realised": realised, "samples": int(len(labels_per_rate[0]))}


def corruptions(state):
    """--corruptions: the served classifier on the test split's complete recordings under each chosen corruption
    at severities 0 (clean) to 5, the other sensors clean, and every sensor corrupted at once, the corruption seed
    the run's, and with held-out people their test people's EER by the fused model's embeddings
    (avtfuse.evaluation.corruptions: results.json's "corruptions" section)."""
    config = state.config
    backbone = state.fused_classifier().backbone if config.data.held_out_people else None
    return corruption_curves(state.data, state.served_classifier(), config.data.corruptions, config.data.seed,
                             config.train.batch_size, backbone)


TRIALS_FILE = os.path.join("evaluation", "verification_trials.csv")
DET_FILE = "verification_det.png"


def verification(state):
    """The held-out people (`SplitData.held_out_people`) scored with the fused model's embeddings
    (`avtfuse.evaluation.verification.verify`): results.json's "verification" section, every test trial in
    evaluation/verification_trials.csv (TRIAL_COLUMNS), the DET curves in verification_det.png; with --trials,
    the user's trial list scored too; in a run with specialists, score fusion averages theirs. "seconds": the
    stage's time (embedding and scoring)."""
    start, data, config = time.time(), state.data, state.config
    classifier, batch_size = state.fused_classifier(), config.train.batch_size
    embedded = {kind: Embedded.of(data.verification_samples(kind),
                                  embed(classifier.backbone, data.verification_batches(kind, batch_size)))
                for kind in ("valid", "test")}
    primary = next(iter(embedded["test"].vectors))
    cohort = training_cohort(classifier.backbone, data.batches("train", batch_size), primary) \
        if config.verification.as_norm_top_k else None
    singles = specialist_embeddings(state) if config.trains_specialists else None
    outputs, rows, curves = verify(embedded["valid"], embedded["test"], data.modalities, config.verification, cohort,
                                   singles)
    if config.verification.trials:
        outputs["trial_list"] = listed_trials(config.verification.trials, joined(embedded["valid"], embedded["test"]),
                                              primary, subsets(data.modalities))
    if state.chief:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(TRIAL_COLUMNS)
        writer.writerows(rows)
        os.makedirs(state.folder.path("evaluation"), exist_ok=True)
        atomic_text(state.folder.path(TRIALS_FILE), text.getvalue())
        plot_det_curves(curves, state.folder.path(DET_FILE), title=f"{config.run_name}: held-out test people")
    outputs.update(trials_csv=state.folder.path(TRIALS_FILE), det_figure=state.folder.path(DET_FILE),
                   seconds=round(time.time() - start, 1))
    pair = outputs["pairs"][f"{outputs['subsets'][0]}|{outputs['subsets'][0]}"]
    logger.info("verification of %d held-out test people: EER %s (every sensor enrolled and probed), %.1f s",
                len(outputs["test_people"]), "n/a" if pair is None else f"{100 * pair['eer']:.2f} %",
                outputs["seconds"])
    return outputs


def calibration(state):
    """What a gallery (avtfuse.recognition) accepts by, per probe subset (each enrolled with the same sensors):
    the threshold at --target-far and the logistic calibration (`calibrations`), written beside the exported
    model. From the held-out validation people (the verification stage's thresholds) in a run with them; else
    from the validation recordings of the trained people (each enrolled from the first half of theirs;
    optimistic: the model trained on these people). "calibration" {} when there are too few such recordings."""
    config, data = state.config, state.data
    kind = "valid" if config.data.held_out_people else "trained"
    samples = data.verification_samples(kind)
    if samples["enrolment"].all():
        logger.warning("no validation person has two recordings: no threshold for a gallery "
                       "(python -m experiments.recognize needs --threshold)")
        return {"source": None, "embedding": None, "calibration": {}}
    backbone = state.fused_classifier().backbone
    valid = Embedded.of(samples, embed(backbone, data.verification_batches(kind, config.train.batch_size)))
    primary = next(iter(valid.vectors))
    source = "the held-out validation people" if kind == "valid" else \
        "the validation recordings of the trained people (optimistic: the model trained on them)"
    return {"source": source, "embedding": primary,
            "calibration": calibrations(valid, primary, subsets(data.modalities), config.verification.target_far)}


def specialist_embeddings(state):
    """{sensor: the Embedded test people as its specialist embeds them, each sample named by the run's condition of
    that sensor alone} (score fusion's single-sensor scores)."""
    singles, modalities = {}, state.data.modalities
    for modality in modalities:
        config, data = state.specialist(modality)
        samples = data.verification_samples("test")
        alone = condition_name([int(m == modality) for m in modalities], modalities)
        singles[modality] = Embedded.of({**samples, "held": np.full(len(samples["held"]), alone)},
                                        embed(state.load_classifier(config.run_dir).backbone,
                                              data.verification_batches("test", config.train.batch_size)))
    return singles


LATENCY_NOT_MEASURED = "no complete test sample: latency not measured"


def latency(state):
    """Batch-1 serving latency of the exported SavedModel on the test split's complete samples, taken again in
    turn so that even one gives the warm-up and the timed calls (a measurement of this machine, not a result: it
    goes to timing.json); when no test sample has every sensor, None and the reason (LATENCY_NOT_MEASURED)."""
    path = state.stage_outputs("export")["saved_model"]
    batches = state.data.batches("test", 1, complete_only=True)
    if not any(True for _ in batches.take(1)):
        logger.warning(LATENCY_NOT_MEASURED)
        return {"latency": None, "not_measured": LATENCY_NOT_MEASURED}
    return {"latency": serving_latency(load_serving(path), batches.repeat(),
                                       state.served_classifier().serving_spec())}


def condition_sources_markdown(sources):
    """The line of results.md saying, per condition, how many test samples arrived holding it and how many the
    run's ablation brought to it (`SplitData.condition_sources`)."""
    return "Test samples per condition (what each holds), arrived so + ablated so by the run: " + "; ".join(
        f"{name} {entry['arrived']} + {entry['ablated']}" for name, entry in sources.items()) + ".\n"


def report(state):
    """results.json, results.md, confusion_matrix.png (the headline conditions), robustness.png (with a rate
    sweep) and timing.json in the run folder, from the other stages' outputs."""
    config, folder = state.config, state.folder
    data = state.stage_outputs("data")
    evaluated, exported = state.stage_outputs("evaluate"), state.stage_outputs("export")
    results = {
        "conditions": evaluated["conditions"], "metrics": evaluated["metrics"],
        "metrics_over": "the headline conditions (complete and each one-modality-missing view)",
        "validation": evaluated.get("validation"),
        "system": config.system, "variant": config.variant, "modalities": data["modalities"],
        "protocol": config.data.protocol, "fold": config.data.fold if config.data.protocol == "folds" else None,
        "sampler": config.train.sampler, "replication": state.resolved.train.replication,
        "missing_fill": config.data.missing_fill,
        "bn_neck_heads": list(getattr(state.resolved.model, "bn_neck_heads", ())),
        "device": state.runtime.device, "precision": state.runtime.precision,
        "train_samples": data["train_samples"], "validation_samples": data["valid_samples"],
        "test_samples": data["test_samples"], "skipped_recordings": data["skipped_recordings"],
        "people_left_out_of_test": data.get("people_left_out_of_test"),
        "test_sharing_a_file_with_training": data.get("test_sharing_a_file_with_training"),
        "split": folder.path("split.csv"),
        "condition_sources": data["test_condition_sources"],
        "reference": references(state),
        "saved_model": exported["saved_model"], "parameters": exported["parameters"]}
    appendix = [condition_sources_markdown(results["condition_sources"])]
    if state.has_stage("single-sensor"):
        results["single_sensor"] = state.stage_outputs("single-sensor")
        appendix.append(single_sensor_markdown(results["single_sensor"]))
    if state.has_stage("specialists"):
        results["specialists"] = state.stage_outputs("specialists")
        results["specialist_runs"] = {m: specialist_config(config, m).run_dir for m in data["modalities"]}
        appendix.append(specialist_markdown(results["specialists"]))
    if state.has_stage("rate-sweep"):
        sweep = state.stage_outputs("rate-sweep")
        results["rate_sweep"] = sweep
        appendix += [rate_sweep_markdown(sweep, title=RATE_SWEEP_TITLE),
                     "Realised share of the real steps missing: " + "; ".join(
                         f"rate {float(rate):g}: " + ", ".join(f"{m} {share:.3f}" for m, share in shares.items())
                         for rate, shares in sweep["realised"].items()) + ".\n"]
        plot_robustness_curves({config.run_name: sweep}, folder.path("robustness.png"))
    if state.has_stage("corruptions"):
        results["corruptions"] = state.stage_outputs("corruptions")
        appendix.append(corruptions_markdown(results["corruptions"]))
    if state.has_stage("verification"):
        results["verification"] = state.stage_outputs("verification")
        appendix.append(verification_markdown(results["verification"]))
    write_results(results, config.run_dir, title=f"{config.system}: {config.run_name}", appendix=appendix)
    predictions = np.load(folder.path(PREDICTIONS_FILE))
    headline = headline_rows(predictions["present"], data["modalities"])
    plot_confusion_matrix(predictions["labels"][headline], predictions["predicted"][headline],
                          load_class_names(folder.path(LABELS_FILE)), folder.path("confusion_matrix.png"))
    # Measurements of this machine, not results: a resumed run counts the time of its last invocation only.
    write_json(folder.path(TIMING_FILE), {"seconds": round(state.elapsed(), 1),
                                          "training_seconds": round(state.training_seconds, 1),
                                          "latency": state.stage_outputs("latency")["latency"]
                                          if state.has_stage("latency") else None})
    return {"results": folder.path("results.json")}
