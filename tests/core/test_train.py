"""coursekit.core.train: the loop, NaN guard, atomic checkpoints, exact resume, EMA, schedule."""
import pytest
import torch
from torch import nn

import coursekit as ck
from coursekit.core.train import (
    CheckpointError,
    Checkpointing,
    NonFiniteLossError,
    cosine_schedule,
    load_checkpoint,
)


def _regression(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(n, generator=g)
    return x, y


def _mse(model, x, y):
    # dropout makes the loss depend on the global RNG, which resume must restore
    return ((model(x).squeeze(-1) - y) ** 2).mean()


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.1), nn.Linear(16, 1))


def test_training_reduces_the_loss_and_logs_history():
    x, y = _regression()
    model = _model()
    hist = ck.train(model, _mse, (x, y), epochs=20, batch_size=32, lr=1e-2, progress=False,
                    eval_fn=lambda m, step: {"mse": float(((m(x).squeeze(-1) - y) ** 2).mean())})
    _, losses = hist.series("loss")
    assert losses[-1] < 0.2 * losses[0]
    assert hist.last("mse", "eval") < 0.5
    assert hist.seconds > 0


def test_resume_gives_the_same_parameters_as_an_uninterrupted_run(tmp_path):
    x, y = _regression()
    ref = _model()
    ck.train(ref, _mse, (x, y), epochs=3, batch_size=40, progress=False, seed=7,
             checkpoint=tmp_path / "ref.pt")
    interrupted = _model()
    ck.train(interrupted, _mse, (x, y), epochs=3, batch_size=40, progress=False, seed=7,
             checkpoint=Checkpointing(tmp_path / "run.pt", every=5, stop_after=9))
    assert load_checkpoint(tmp_path / "run.pt")["step"] == 9   # mid-epoch (6 steps per epoch)
    torch.manual_seed(12345)  # the caller's RNG state must not matter: the checkpoint has it
    resumed = _model()
    hist = ck.train(resumed, _mse, (x, y), epochs=3, batch_size=40, progress=False, seed=7,
                    checkpoint=tmp_path / "run.pt")
    for p, q in zip(ref.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    assert hist.records[-1]["step"] == 18


def test_nan_loss_stops_with_step_and_cures():
    x, y = _regression()
    x[100:] = float("nan")
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at step \d+.*learning rate"):
        ck.train(_model(), _mse, (x, y), epochs=2, batch_size=32, progress=False)


def test_checkpoint_is_written_atomically_and_loads_safely(tmp_path):
    x, y = _regression()
    ck.train(_model(), _mse, (x, y), epochs=1, batch_size=64, progress=False,
             checkpoint=tmp_path / "c.pt")
    assert not list(tmp_path.glob("*.tmp"))
    ckpt = torch.load(tmp_path / "c.pt", weights_only=True)
    assert ckpt["step"] == 4 and "optimizer" in ckpt and "rng" in ckpt


def test_corrupt_or_foreign_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    x, y = _regression()
    with pytest.raises(CheckpointError, match="corrupt"):
        ck.train(_model(), _mse, (x, y), epochs=1, progress=False, checkpoint=bad)
    other = tmp_path / "other.pt"
    ck.train(nn.Linear(4, 1), lambda m, x, y: _mse(m, x, y), (x, y), epochs=1, batch_size=64,
             progress=False, checkpoint=other)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        ck.train(_model(), _mse, (x, y), epochs=2, progress=False, checkpoint=other)


def test_step_fn_with_two_optimizers_and_sampler_data():
    a, b = nn.Linear(2, 1), nn.Linear(2, 1)
    model = nn.ModuleDict({"a": a, "b": b})
    opts = {"a": torch.optim.SGD(a.parameters(), 0.1), "b": torch.optim.SGD(b.parameters(), 0.1)}

    def step(model, x):
        out = {}
        for k in ("a", "b"):
            loss = (model[k](x) - 1).pow(2).mean()
            opts[k].zero_grad()
            loss.backward()
            opts[k].step()
            out[f"loss_{k}"] = loss.item()
        return out

    hist = ck.train(model, None, lambda n, g: torch.randn(n, 2, generator=g), steps=50,
                    batch_size=16, step_fn=step, optimizer=opts, progress=False, log_every=5)
    assert hist.last("loss_a") < 0.1 and hist.last("loss_b") < 0.1


def test_ema_tracks_the_weights():
    x, y = _regression()
    model = _model()
    ema = ck.EMA(model, decay=0.9)
    ck.train(model, _mse, (x, y), epochs=5, batch_size=32, progress=False, ema=ema)
    gap = sum((p - q).detach().abs().sum() for p, q in zip(model.parameters(), ema.model.parameters()))
    assert 0 < float(gap) < 1.0


def test_argument_errors():
    x, y = _regression()
    with pytest.raises(ValueError, match="exactly one"):
        ck.train(_model(), None, (x, y))
    with pytest.raises(ValueError, match="no full batch"):
        ck.train(_model(), _mse, (x[:10], y[:10]), batch_size=32)


def test_lr_schedule_sets_each_step_and_resume_keeps_it(tmp_path):
    x, y = _regression()
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []
    sched = cosine_schedule(warmup=4)

    def spy(step, total):
        seen.append(sched(step, total))
        return seen[-1]

    ck.train(model, _mse, (x, y), epochs=2, batch_size=32, optimizer=opt, schedule=spy,
             progress=False)
    assert seen[0] == 0.25 and seen[3] == 1.0 and seen[-1] < 0.05
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * seen[-1])
    runs = {}
    for name, stop in (("ref", None), ("resumed", 5)):
        runs[name] = m = _model()  # also reseeds the global RNG that dropout draws from
        o = torch.optim.SGD(m.parameters(), lr=0.1)
        ck.train(m, _mse, (x, y), epochs=2, batch_size=32, optimizer=o, progress=False,
                 schedule=sched, checkpoint=Checkpointing(tmp_path / f"{name}.pt", stop_after=stop))
    resumed = runs["resumed"]
    o = torch.optim.SGD(resumed.parameters(), lr=0.1)
    ck.train(resumed, _mse, (x, y), epochs=2, batch_size=32, optimizer=o, progress=False,
             schedule=sched, checkpoint=tmp_path / "resumed.pt")
    assert all(torch.equal(p, q) for p, q in zip(runs["ref"].parameters(), resumed.parameters()))


def test_ema_warmup_ramps_the_decay():
    ema = ck.EMA(nn.Linear(2, 2), decay=0.999, warmup=True)
    assert ema.current_decay() == pytest.approx(0.1)
    for _ in range(5):
        ema.update(nn.Linear(2, 2))
    assert ema.current_decay() == pytest.approx(6 / 15)
    state = ema.state_dict()
    other = ck.EMA(nn.Linear(2, 2), decay=0.999, warmup=True)
    other.load_state_dict(state)
    assert other.updates == 5


def test_eval_fn_is_told_the_step_in_eval_mode_without_gradients():
    x, y = _regression()
    model = _model()
    seen = []

    def eval_fn(m, step):
        seen.append((step, m.training, torch.is_grad_enabled()))
        return {"step_seen": float(step)}

    hist = ck.train(model, _mse, (x, y), epochs=2, batch_size=32, progress=False, eval_fn=eval_fn,
                    eval_every=5)
    assert [s for s, _, _ in seen] == [5, 10, 15, 16]  # 8 steps per epoch, and once at the end
    assert not any(training or grad for _, training, grad in seen)
    assert hist.series("step_seen", "eval")[1] == [5.0, 10.0, 15.0, 16.0]


def test_history_records_steps_and_cpu_time_across_a_resume(tmp_path):
    x, y = _regression()
    ck.train(_model(), _mse, (x, y), epochs=2, batch_size=32, progress=False,
             checkpoint=Checkpointing(tmp_path / "c.pt", stop_after=10))
    hist = ck.train(_model(), _mse, (x, y), epochs=2, batch_size=32, progress=False,
                    checkpoint=tmp_path / "c.pt")
    assert hist.steps == 16 and hist.cpu_seconds > 0
    first = load_checkpoint(tmp_path / "c.pt")["history"]
    assert first["steps"] == 16 and first["cpu_seconds"] >= hist.cpu_seconds - 1e-9


def test_cosine_schedule_is_warmup_then_cosine_to_final():
    f = cosine_schedule(warmup=10, final=0.1)
    assert f(0, 110) == pytest.approx(0.1) and f(9, 110) == pytest.approx(1.0)
    assert f(10, 110) == pytest.approx(1.0) and f(60, 110) == pytest.approx(0.55)
    assert f(110, 110) == pytest.approx(0.1) and f(500, 110) == pytest.approx(0.1)
    no_warmup = cosine_schedule(final=0.02)
    assert no_warmup(0, 100) == 1.0 and no_warmup(100, 100) == pytest.approx(0.02)


@pytest.mark.parametrize("show_metrics", [True, False])
def test_the_bar_can_count_steps_without_metrics_which_are_logged_anyway(capsys, show_metrics):
    x, y = _regression()
    hist = ck.train(_model(), _mse, (x, y), steps=20, batch_size=32, log_every=10,
                    eval_fn=lambda m, step: {"mse": 1.0}, eval_every=10, desc="demo",
                    show_metrics=show_metrics)
    bar = capsys.readouterr().err
    assert "demo" in bar and "20/20" in bar
    assert ("loss=" in bar) == show_metrics and ("mse=" in bar) == show_metrics
    assert hist.series("loss")[1] and hist.last("mse", "eval") == 1.0
