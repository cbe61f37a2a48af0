"""byhand.repro: ModuleVerifier finds planted bugs, ReproductionTracker, PaperSpec, seeding."""

import copy
import json

import pytest
import torch
from torch import nn

from byhand.repro import (
    ModuleVerifier,
    PaperSpec,
    ReproductionTracker,
    compare_tensors,
    two_epochs,
)


class Block(nn.Module):
    """A residual block: conv-bn-relu-conv-bn, plus a (strided 1x1) shortcut."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)  # shared: called twice per block
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.layer1 = nn.Sequential(Block(4, 4), Block(4, 4))
        self.layer2 = nn.Sequential(Block(4, 8, stride=2), Block(8, 8))
        self.linear = nn.Linear(8, 3)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.layer2(self.layer1(out))
        return self.linear(out.mean((2, 3)))


@pytest.fixture
def pair():
    torch.manual_seed(0)
    model = TinyResNet().double()
    return model, copy.deepcopy(model), torch.randn(2, 3, 8, 8, dtype=torch.float64)


def test_a_correct_copy_reports_no_divergence(pair):
    model, reference, x = pair
    report = ModuleVerifier(model, reference).compare(x)
    assert report.passed and report.first_divergence is None
    assert report.first_gradient_divergence is None
    kinds = {row.kind for row in report.rows}
    assert kinds == {"output", "buffer", "output grad", "param grad", "input grad"}
    # every named module was hooked, not only the top-level ones
    names = {row.name for row in report.of("output")}
    assert {"layer2.0.shortcut.0", "layer1.1.conv2", "layer1", ""} <= names


def test_a_moved_stride_is_found_at_the_first_leaf_it_changes(pair):
    model, reference, x = pair
    block = model.layer2[0]
    block.conv1.stride, block.conv2.stride = (1, 1), (2, 2)  # the planted bug
    report = ModuleVerifier(model, reference).compare(x)
    assert report.first_divergence == "layer2.0.conv1"
    row = report.first_divergent_row
    assert row.note == "shape (2, 8, 8, 8) vs (2, 8, 4, 4)" and not row.passed


def test_deepest_first_a_leaf_not_its_block(pair):
    model, reference, x = pair
    with torch.no_grad():
        model.layer1[1].conv2.weight[0, 0, 1, 1] += 0.5
    report = ModuleVerifier(model, reference).compare(x)
    assert report.first_divergence == report.suspect == "layer1.1.conv2"
    failed = [row.name for row in report.of("output") if not row.passed]
    assert failed.index("layer1.1.conv2") < failed.index("layer1.1") < failed.index("layer1")
    assert report.first_divergent_row.max_abs_error > 1e-3


def test_code_between_submodules_names_the_block(pair):
    """No submodule differs, the block's own forward does (the residual add dropped)."""
    model, reference, x = pair

    def no_residual(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))

    model.layer1[0].forward = no_residual.__get__(model.layer1[0])
    report = ModuleVerifier(model, reference).compare(x)
    assert report.first_divergence == "layer1.0.relu"  # the first output to part
    assert report.first_divergent_row.note == "its inputs already differ"
    assert report.suspect == "layer1.0"  # whose forward computed relu's input


def test_bn_momentum_convention_flipped(pair):
    model, reference, x = pair
    model.layer1[1].bn2.momentum = 0.9  # "keep 90%" read as PyTorch's "take 90% of the new"
    verifier = ModuleVerifier(model, reference)
    train = verifier.compare(x)  # train mode: outputs agree, running statistics do not
    assert all(row.passed for row in train.of("output"))
    assert train.first_divergence == "layer1.1.bn2"
    assert train.first_divergent_row.name == "layer1.1.bn2.running_mean"
    model.eval(), reference.eval()
    evaluation = verifier.compare(x, backward=False)
    assert evaluation.first_divergence == "layer1.1.bn2"
    assert evaluation.first_divergent_row.kind == "output"


class Shared(nn.Module):
    """One ReLU module called three times per forward."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc3(self.act(self.fc2(self.act(self.fc1(x))))))


class LeakyOnSecondCall(nn.Module):
    def __init__(self):
        super().__init__()
        self.count = 0

    def forward(self, input):
        self.count += 1
        slope = 0.1 if self.count == 2 else 0.0
        return torch.nn.functional.leaky_relu(input, slope)


@pytest.fixture
def shared():
    torch.manual_seed(0)
    model = Shared().double()
    return model, copy.deepcopy(model), torch.randn(5, 4, dtype=torch.float64)


def test_a_shared_module_is_compared_call_by_call(shared):
    model, reference, x = shared
    model.act = LeakyOnSecondCall()
    report = ModuleVerifier(model, reference).compare(x)
    act = [row for row in report.of("output") if row.name == "act"]
    assert [row.call for row in act] == [0, 1, 2]
    assert [row.passed for row in act[:2]] == [True, False]
    assert report.first_divergence == "act" and report.first_divergent_row.call == 1


def test_a_missing_call_is_a_failed_row(shared):
    model, reference, x = shared
    model.forward = lambda x: model.fc3(model.act(model.fc2(model.act(model.fc1(x)))))
    report = ModuleVerifier(model, reference).compare(x)
    (missing,) = [row for row in report.of("output") if "only in" in row.note]
    assert (missing.name, missing.call, missing.note) == ("act", 2, "call 2 only in reference")


def test_in_place_relu_output_gradients_are_those_before_the_in_place_op(pair):
    model, reference, x = pair
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    report = ModuleVerifier(model, reference).compare(x)
    assert report.passed, report.table(failed_only=True)
    assert len(report.of("output grad")) > 20


class WrongBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return grad * (input > 0) * 2  # the planted bug: twice the gradient


class ReLUWrongBackward(nn.ReLU):
    def forward(self, input):
        return WrongBackward.apply(input)


def test_a_backward_only_bug_shows_in_the_gradients(shared):
    model, reference, x = shared
    model.act = ReLUWrongBackward()
    report = ModuleVerifier(model, reference).compare(x)
    assert report.first_divergence is None
    # the gradient w.r.t. fc3's output is act's backward's result: the first to part
    assert report.first_gradient_divergence == "fc3"
    assert not report.passed


def test_module_names_must_match():
    with pytest.raises(
        ValueError,
        match=r"missing in model: \['fc1', 'fc2', 'fc3', 'act'\]; missing in reference: \['0'\]",
    ):
        ModuleVerifier(nn.Sequential(nn.Linear(2, 2)), Shared())
    with pytest.raises(TypeError, match="torch.nn.Module for reference"):
        ModuleVerifier(Shared(), lambda x: x)


def test_tolerance_follows_the_dtype():
    ref = torch.ones(3)
    near = [ref + 5e-6]
    assert compare_tensors(near, [ref])[4]  # float32: 1e-5 + 1e-4
    assert not compare_tensors([ref.double() + 5e-6], [ref.double()])[
        4
    ]  # float64: 1e-10 + 1e-7
    error, cosine, *_ = compare_tensors([torch.tensor([float("nan"), 1.0])], [torch.ones(2)])
    assert error == float("inf")


def test_tracker_deviation_flag_and_direction(tmp_path):
    path = tmp_path / "runs.json"
    tracker = ReproductionTracker({"acc": 93.02, "loss": 0.30}, path=path)
    tracker.log_run("a", {"acc": 85.0, "loss": 0.50})
    record = tracker.log_run("b", {"acc": 92.5, "loss": 0.29}, notes="cosine")
    tracker.log_run("c", {"acc": 91.0, "loss": 0.20})
    d = record["deviations"]["acc"]
    assert d["points"] == pytest.approx(-0.52) and d["percent"] == pytest.approx(
        -0.559, abs=1e-3
    )
    assert tracker.runs[0]["flagged"] == ["acc", "loss"] and record["flagged"] == []
    assert tracker.best_run("acc", mode="max")["name"] == "b"
    assert tracker.best_run("acc", mode="min")["name"] == "a"
    assert tracker.best_run("loss", mode="min")["name"] == "c"
    assert tracker.closest_run("loss")["name"] == "b"
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        tracker.best_run("acc", mode="lowest")
    with pytest.raises(ValueError, match="no run recorded 'top5'"):
        tracker.best_run("top5")
    with pytest.raises(ValueError, match="already recorded"):
        tracker.log_run("a", {"acc": 1.0})
    # on disk: atomic (no temporary left), reopened with every run
    assert [p.name for p in tmp_path.iterdir()] == ["runs.json"]
    again = ReproductionTracker({"acc": 93.02, "loss": 0.30}, path=path)
    assert again.runs == tracker.runs
    assert ReproductionTracker.from_json(tracker.to_json()).to_dict() == tracker.to_dict()
    with pytest.raises(ValueError, match="tracks"):
        ReproductionTracker({"acc": 94.0}, path=path)
    with pytest.raises(ValueError, match="at a 5% threshold, not .* at 10%"):
        ReproductionTracker({"acc": 93.02, "loss": 0.30}, path=path, threshold_pct=10)
    table = tracker.table()
    assert "| a | acc | 85 | 93.02 | -8.02 | -8.62 | **yes** (>5%) |" in table
    fig = tracker.plot(tmp_path / "runs.png")
    assert (tmp_path / "runs.png").stat().st_size > 1000 and len(fig.axes) == 2


def test_tracker_rejects_a_zero_paper_value():
    with pytest.raises(ValueError, match="'err' must be a finite non-zero number"):
        ReproductionTracker({"err": 0.0})


def test_paper_spec_round_trip_and_table(tmp_path):
    spec = PaperSpec(
        "Deep Residual Learning",
        authors=["He", "Zhang"],
        year=2016,
        stated={"batch size": "128 (on two GPUs)", "weight decay": "1e-4"},
        omitted=["BN momentum", "nesterov"],
        assumed={"BN momentum": "0.1 (PyTorch's)", "batch size": "128 on one device"},
        reported={"ResNet-20 test error %": 8.75},
    )
    assert PaperSpec.from_json(spec.to_json()) == spec
    spec.save(tmp_path / "spec.json")
    assert PaperSpec.load(tmp_path / "spec.json") == spec
    assert json.loads(spec.to_json())["omitted"] == ["BN momentum", "nesterov"]
    table = spec.to_markdown().splitlines()
    assert table[2] == "| batch size | 128 (on two GPUs) | 128 on one device |"
    assert "| nesterov | *not stated* | **open** |" in table
    assert spec.open_items == ["nesterov"]
    with pytest.raises(ValueError, match="neither stated nor omitted"):
        PaperSpec("t", assumed={"lr": "0.1"})
    with pytest.raises(ValueError, match="unknown keys \\['batch'\\]"):
        PaperSpec.from_json('{"title": "t", "batch": 1}')


def test_seeding_measured():
    """torch.manual_seed alone: NumPy in the main process (mixup) differs between two runs;
    seed_everything + seed_worker: bitwise equal; the workers' own NumPy is seeded by torch."""
    torch_only = two_epochs("torch", num_workers=2, main_process_numpy=True)
    everything = two_epochs("everything", num_workers=2, main_process_numpy=True)
    workers_only = two_epochs("torch", num_workers=2, main_process_numpy=False)
    assert not torch_only.equal and torch_only.max_abs_difference > 0
    assert everything.equal and everything.max_abs_difference == 0
    assert workers_only.equal  # PyTorch >= 1.9 seeds NumPy in each worker from its base seed


def test_every_spec_round_trips_and_the_hook_renders_it():
    import importlib.util
    from pathlib import Path

    from byhand.repro.papers import SPECS

    for spec in SPECS.values():
        assert PaperSpec.from_json(spec.to_json()) == spec
    path = Path(__file__).resolve().parents[1] / "docs" / "hooks" / "paper_specs.py"
    module_spec = importlib.util.spec_from_file_location("paper_specs", path)
    hook = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(hook)
    page = "before\n<!-- byhand:paper-spec he2016-cifar -->\nafter"
    rendered = hook.on_page_markdown(page, None, None, None)
    assert "| filters per stage | 16, 32, 64 | as stated |" in rendered
    assert rendered.startswith("before\n| item |") and rendered.endswith("\nafter")
    with pytest.raises(Exception, match="no such spec"):
        hook.on_page_markdown("<!-- byhand:paper-spec nope -->", None, None, None)


def test_the_recipe_spec_matches_the_registered_recipe():
    """The ResNet-18 page says 'as stated' for these rows: the recipe must hold those values."""
    from byhand.repro.papers import RESNET18_CIFAR_RECIPE as spec
    from byhand.train.recipes import RECIPES

    recipe = RECIPES["resnet18-cifar10"]
    assert spec.stated["optimizer"] == "SGD, lr 0.1, momentum 0.9, weight decay 5e-4"
    assert (recipe.lr, recipe.momentum, recipe.weight_decay) == (0.1, 0.9, 5e-4)
    assert spec.stated["batch size"].startswith("128") and recipe.batch_size == 128
    assert "200 epochs" in spec.stated["schedule"] and recipe.epochs == 200
    assert (recipe.warmup_epochs, recipe.label_smoothing) == (0.0, 0.0)
    for item in ("optimizer", "batch size", "augmentation", "model"):
        assert item not in spec.assumed  # rendered "as stated"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_verifier_on_cuda_finds_the_planted_bug_and_keeps_devices(pair):
    model, reference, x = pair
    model, reference, x = model.cuda().float(), reference.cuda().float(), x.cuda().float()
    assert ModuleVerifier(model, reference).compare(x).passed  # float32 tolerance, same RNG
    with torch.no_grad():
        model.layer1[1].conv2.weight[0, 0, 1, 1] += 0.5
    report = ModuleVerifier(model, reference).compare(x)
    assert report.first_divergence == "layer1.1.conv2"
    dropout = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).cuda()  # same RNG state for both
    same = copy.deepcopy(dropout)
    assert ModuleVerifier(dropout, same).compare(torch.randn(8, 4, device="cuda")).passed


def test_random_modules_see_the_same_random_state():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    report = ModuleVerifier(model, copy.deepcopy(model)).compare(torch.randn(8, 4))
    assert report.passed and len(report.of("output")) == 4
