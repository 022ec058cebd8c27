from pathlib import Path

import pytest
import torch

from core.config import make_config
from core.evaluate import main
from core.evaluation import CheckpointError, Report, confusion_cell, evaluate, load_weights, predict_topk
from core.models import LeNet, Net
from core.runs import RunStore
from core.trainer import train

ROOT = Path(__file__).resolve().parents[1]


def test_report_metrics_from_a_known_confusion_matrix():
    # rows: true a, b; columns: predicted a, b
    r = Report(["a", "b"], torch.tensor([[8, 2], [4, 6]]), 0.0, torch.zeros(0))
    assert r.accuracy == pytest.approx(0.7)
    assert r.per_class_accuracy() == pytest.approx({"a": 0.8, "b": 0.6})
    assert r.precision.tolist() == pytest.approx([8 / 12, 6 / 8])
    assert r.f1[0].item() == pytest.approx(2 * (8 / 12) * 0.8 / (8 / 12 + 0.8))
    assert [row["support"] for row in r.table()] == [10, 10]


def test_report_finds_which_images_were_taken_for_which_class():
    # test labels a a b b b c; the model read the second a as b and the first b as a, the c as b
    y = torch.tensor([0, 0, 1, 1, 1, 2])
    predictions = torch.tensor([0, 1, 0, 1, 1, 1])
    confidence = torch.tensor([0.9, 0.6, 0.7, 0.8, 0.5, 0.4])
    confusion = torch.bincount(y * 3 + predictions, minlength=9).view(3, 3)
    r = Report(["a", "b", "c"], confusion, 0.0, predictions, confidence)
    assert r.mistakes(y, "a", "b") == [(1, pytest.approx(0.6))]
    assert r.mistakes(y, "b", "b") == [(3, pytest.approx(0.8)), (4, pytest.approx(0.5))]
    assert r.mistakes(y, "b", "b", limit=1) == [(3, pytest.approx(0.8))]
    assert r.mistakes(y, "a", "c") == []
    assert r.taken_for("c") == [("b", 1), ("a", 0)]
    shares = r.confusion_shares().flatten().tolist()
    assert shares == pytest.approx([0.5, 0.5, 0, 1 / 3, 2 / 3, 0, 0, 1, 0])


def test_a_clicked_confusion_cell_names_its_true_and_predicted_class():
    classes = ["cat", "dog", "frog"]
    # what st.plotly_chart's selection holds after a click on the cell (true dog, predicted frog)
    clicked = [{"curve_number": 1, "point_index": 5, "x": "frog", "y": "dog", "customdata": [1, 2]}]
    assert confusion_cell(clicked, classes) == ("dog", "frog")
    assert confusion_cell([{"customdata": [0, 0]}], classes) == ("cat", "cat")  # a diagonal cell
    for nothing in ([], [{"x": "frog"}], [{"customdata": [1, 3]}], [{"customdata": [True, 0]}]):
        assert confusion_cell(nothing, classes) is None


def test_an_empty_class_row_has_zero_shares_not_nan():
    r = Report(["a", "b"], torch.tensor([[0, 0], [1, 3]]), 0.0, torch.zeros(0))
    assert r.confusion_shares().tolist() == [[0, 0], [0.25, 0.75]]


class Oracle(torch.nn.Module):
    """Predicts the class written in the first pixel: a model whose report is known in advance."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        k = ((x[:, 0, 0, 0] + 1) * 127.5).round().long()  # undo the seed normalisation
        return torch.nn.functional.one_hot(k, 3).float() * 10 + self.w


def test_evaluate_counts_every_image_and_reports_progress():
    y = torch.tensor([0, 1, 2, 2, 1, 0, 0])
    x = torch.zeros(7, 3, 32, 32, dtype=torch.uint8)
    x[:, 0, 0, 0] = torch.tensor([0, 1, 2, 1, 1, 0, 0], dtype=torch.uint8)  # one mistake: a 2 read as 1
    seen = []
    report = evaluate(
        Oracle(), x, y, ["a", "b", "c"], 3, batch_size=3, progress=lambda d, t: seen.append((d, t))
    )
    assert report.confusion.sum() == 7 and report.accuracy == pytest.approx(6 / 7)
    assert report.confusion[2, 1] == 1 and report.predictions.tolist() == [0, 1, 2, 1, 1, 0, 0]
    assert seen == [(3, 7), (6, 7), (7, 7)]


def test_reports_over_disjoint_shards_merge_into_the_report_over_all_images():
    """How the ranks of a distributed run add up their test shards (strided, as core/trainer.py cuts them)."""
    y = torch.tensor([0, 1, 2, 2, 1, 0, 0])
    x = torch.zeros(7, 3, 32, 32, dtype=torch.uint8)
    x[:, 0, 0, 0] = torch.tensor([0, 1, 2, 1, 1, 0, 0], dtype=torch.uint8)
    whole = evaluate(Oracle(), x, y, ["a", "b", "c"], 3)
    shards = [torch.arange(r, 7, 2) for r in range(2)]
    parts = [(i, evaluate(Oracle(), x[i], y[i], ["a", "b", "c"], 3)) for i in shards]
    merged = Report.merge(parts, 7)
    assert torch.equal(merged.confusion, whole.confusion) and torch.equal(
        merged.predictions, whole.predictions
    )
    assert torch.allclose(merged.confidence, whole.confidence) and merged.loss == pytest.approx(whole.loss)
    assert merged.classes == whole.classes


def test_predict_topk_is_sorted_probabilities():
    x = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    x[1, 0, 0, 0] = 2
    top = predict_topk(Oracle(), x, ["a", "b", "c"], 3, k=2)
    assert [t[0][0] for t in top] == ["a", "c"]
    assert all(t[0][1] >= t[1][1] and 0.99 < t[0][1] <= 1 for t in top)


def test_checkpoint_errors_are_messages_and_files_are_untouched(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a torch file")
    foreign = tmp_path / "lenet.pth"
    torch.save(LeNet().state_dict(), foreign)
    pickled = tmp_path / "object.pth"
    torch.save({"model": Oracle()}, pickled)  # a whole module: refused by weights_only loading
    before = {p: p.read_bytes() for p in (garbage, foreign, pickled)}
    for path, message in [
        (garbage, "not a readable PyTorch state dict"),
        (foreign, "does not fit the Net model"),
        (pickled, "not a readable"),
        (tmp_path / "missing.pth", "does not exist"),
    ]:
        with pytest.raises(CheckpointError, match=message):
            load_weights(Net(), path)
    assert {p: p.read_bytes() for p in before} == before


@pytest.mark.slow
def test_evaluate_cli_prints_a_per_class_report(tmp_path, capsys, small_data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = RunStore(tmp_path / "runs").create({})
    cfg = make_config(
        data="synthetic", model="tutorial", optimizer="adam", lr=3e-3, batch_size=64, epochs=1, device="cpu"
    )
    (run.path / "config.json").write_text(__import__("json").dumps(__import__("dataclasses").asdict(cfg)))
    train(cfg, run)
    assert main([run.id, "--runs-dir", str(tmp_path / "runs"), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out and "disc" in out and "precision" in out
    assert main(["no-such-run", "--runs-dir", str(tmp_path / "runs")]) == 1
    # without --runs-dir, the runs folder the app uses (BLITZLAB_RUNS_DIR), not ./runs
    monkeypatch.setenv("BLITZLAB_RUNS_DIR", str(tmp_path / "runs"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main([run.id, "--device", "cpu"]) == 0
    assert f"run {run.id}:" in capsys.readouterr().out
