"""Tables of runs (avtfuse.training.table): each cell run or read back, in order, with one line of progress; cell
names from default_run_name."""

from avtfuse.runs import build_experiment
from avtfuse.training import table as table_module


def test_each_cell_is_run_or_read_back(monkeypatch, capsys):
    finished = {"b": {"read": "b"}}
    ran = []
    monkeypatch.setattr(table_module, "finished_results", lambda config: finished.get(config.run_name))
    monkeypatch.setattr(table_module, "run_experiment",
                        lambda config, verbose: ran.append((config.run_name, verbose)) or {"ran": config.run_name})
    done = table_module.run_each(["a", "b", "c"], lambda cell: build_experiment("avtnet", run_name=cell),
                                 describe=str.upper, verbose=0)
    assert [(cell, config.run_name, results) for cell, config, results in done] == [
        ("a", "a", {"ran": "a"}), ("b", "b", {"read": "b"}), ("c", "c", {"ran": "c"})]
    assert ran == [("a", 0), ("c", 0)]
    assert capsys.readouterr().out.splitlines() == ["run 1/3: A", "run 2/3: B (finished earlier)", "run 3/3: C"]


def test_table_runs_are_named_by_default_run_name():
    runs = table_module.table_runs(("prop",), (0,), ("strict",), "prop", ablations=("paper", "subsets"))
    assert [run.name for run in runs][:2] == ["prop-avt-strict-seed0", "prop-av-strict-seed0"]
    assert runs[-1].name == "prop-vt-strict-subsets-seed0"
