"""The verification section of results.md from the verification stage's outputs (avtfuse.evaluation.verification)."""


def _people(count):
    return f"{count} {'person' if count == 1 else 'people'}"


def _percent(value):
    return "—" if value is None else f"{100 * value:.2f}"


def _eer(row):
    return "—" if row is None else _percent(row["eer"])


def _matrix(title, table, subsets):
    """EER (%) of every enrolment subset (rows) x probe subset (columns)."""
    lines = [title, "", "| enrolment \\ probe | " + " | ".join(subsets) + " |",
             "|---|" + "---:|" * len(subsets)]
    for enrol in subsets:
        lines.append(f"| {enrol} | " + " | ".join(_eer(table[f"{enrol}|{probe}"]) for probe in subsets) + " |")
    return lines + [""]


def verification_markdown(section):
    """Markdown of results.json["verification"]: the 7 x 7 (subsets x subsets) EER tables of the model's embedding
    and of score fusion, the measures of each matched pair, and per probe subset the validation people's threshold
    on the test people (calibration, open-set identification)."""
    subsets, embedding = section["subsets"], section["embedding"]
    lines = ["## Verification: people the model never trained on", "",
             f"Test: {_people(len(section['test_people']))} ({_people(len(section['validation_people']))} of "
             f"validation chose the thresholds); scores: cosine similarity of the `{embedding}` embedding to the mean "
             "of a person's enrolment embeddings. Rates in %; EER interval: 95 % Wilson interval over the trials of "
             "the rarer kind.",
             ""]
    lines += _matrix(f"EER (%), the model's `{embedding}` embedding:", section["pairs"], subsets)
    lines += _matrix(f"EER (%), score fusion (the mean of the single-sensor scores, by {section['score_fusion_of']}, "
                     "of the sensors both hold; — where they share none):", section["score_fusion"], subsets)
    normed = any(row and "as_norm" in row for row in section["pairs"].values())
    lines += ["Enrolment and probe with the same sensors:", "",
              "| subset | EER | 95 % interval | minDCF 0.01 | minDCF 0.05 | TAR @ FAR 1 % | TAR @ FAR 0.1 % | "
              "target / non-target trials | score fusion EER |" + (" AS-norm EER |" if normed else ""),
              "|---|---:|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if normed else "")]
    for subset in subsets:
        row, fused = section["pairs"][f"{subset}|{subset}"], section["score_fusion"][f"{subset}|{subset}"]
        if row is None:
            continue
        low, high = row["eer_interval"]
        lines.append(f"| {subset} | {_percent(row['eer'])} | {_percent(low)}–{_percent(high)} | "
                     f"{row['min_dcf_0.01']:.4f} | {row['min_dcf_0.05']:.4f} | {_percent(row['tar_at_far_0.01'])} | "
                     f"{_percent(row['tar_at_far_0.001'])} | {row['target_trials']} / {row['non_target_trials']} | "
                     f"{_eer(fused)} |" + (f" {_eer(row.get('as_norm'))} |" if normed else ""))
    for name, table in section["individual"].items():
        lines += ["", f"EER (%) of the `{name}` embedding, same sensors enrolled and probed: " + "; ".join(
            f"{subset} {_eer(row)}" for subset, row in table.items() if row is not None) + "."]
    open_set = section["open_set"]
    lines += ["", f"Each probe subset enrolled with the same sensors (as a gallery scores); its threshold set on the validation people for FAR "
              f"{_percent(section['target_far'])} %, then read on the test people. Open-set identification: "
              f"{_people(len(open_set['enrolled_people']))} of the test enrolled, "
              f"{_people(len(open_set['unknown_people']))} unknown.",
              "", "| probe subset | threshold | test FAR | test FRR | Cllr | detection and identification | "
              "unknown accepted | rank-1 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for subset, row in section["calibration"].items():
        identified = open_set.get(subset, {})
        cllr = "—" if row["cllr"] is None else f"{row['cllr']:.3f}"
        lines.append(f"| {subset} | {row['threshold']:.3f} | {_percent(row['test_far'])} | "
                     f"{_percent(row['test_frr'])} | {cllr} | "
                     f"{_percent(identified.get('detection_identification_rate'))} | "
                     f"{_percent(identified.get('false_accept_rate'))} | {_percent(identified.get('rank1'))} |")
    listed = section.get("trial_list")
    if listed:
        measures = listed["measures"]
        lines += ["", f"Trial list {listed['path']}: {listed['trials']} trials, EER "
                  f"{_eer(measures)} %" + ("" if measures is None else
                                           f", minDCF 0.01 {measures['min_dcf_0.01']:.4f}") + "."]
    return "\n".join(lines) + "\n"
