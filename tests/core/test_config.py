"""coursekit.core.config: profiles, seeding determinism, scale."""
import pytest
import torch

import coursekit as ck


def test_same_seed_same_numbers():
    ck.setup(seed=3, verbose=False)
    a = torch.randn(5)
    ck.setup(seed=3, verbose=False)
    assert torch.equal(a, torch.randn(5))


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("COURSEKIT_FAST", "1")
    cfg = ck.setup(verbose=False)
    assert cfg.fast and cfg.profile == "fast" and cfg.scale(100, 2) == 2
    monkeypatch.setenv("COURSEKIT_FAST", "0")
    cfg = ck.setup(verbose=False)
    assert not cfg.fast and cfg.scale(100, 2) == 100


def test_full_profile_uses_the_full_value_or_the_default(monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROFILE", "full")
    cfg = ck.setup(verbose=False)
    assert cfg.profile == "full" and not cfg.fast
    assert cfg.scale(100, 2, full=5000) == 5000 and cfg.scale(100, 2) == 100
    monkeypatch.setenv("COURSEKIT_PROFILE", "fast")
    assert ck.setup(verbose=False).scale(100, 2, full=5000) == 2


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROFILE", "quick")
    with pytest.raises(ValueError, match="not a profile.*fast, default, full"):
        ck.setup(verbose=False)


def test_threads_override(monkeypatch):
    monkeypatch.setenv("COURSEKIT_THREADS", "1")
    assert ck.setup(verbose=False).threads == 1 and torch.get_num_threads() == 1


def test_setup_prints_one_line_a_student_needs(capsys, monkeypatch):
    monkeypatch.delenv("COURSEKIT_FAST", raising=False)
    ck.setup(seed=0, profile="default")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "torch" in out[0] and "seed 0" in out[0]
    assert "profile" not in out[0] and "size" not in out[0] and "+cu" not in out[0]
    ck.setup(seed=0, profile="fast")
    assert "fast size" in capsys.readouterr().out
