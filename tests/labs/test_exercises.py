"""coursekit.exercises: checks report not-attempted / wrong / right and never raise."""
import coursekit.labs.exercises as ex


def test_not_attempted(capsys):
    assert ex.check("e1", lambda: ex.todo(), lambda g: True) is None
    assert ex.check("e1", None, lambda g: True) is None
    assert capsys.readouterr().out.count(ex.NOT_ATTEMPTED) == 2


def test_wrong_right_and_crashing_answers(capsys):
    assert ex.check("e2", lambda: 3.0, lambda g: ex.close(g, 3.0)) is True
    assert ex.check("e2", lambda: 2.0, lambda g: ex.close(g, 3.0)) is False
    assert ex.check("e2", lambda: 1 / 0, lambda g: True) is False
    out = capsys.readouterr().out
    assert "✓ e2: correct" in out and "not yet right" in out and "ZeroDivisionError" in out


def test_close_reports_shape_mismatch():
    ok, msg = ex.close([1.0, 2.0], [1.0])
    assert not ok and "shape" in msg


def test_close_reports_a_match_by_its_tolerance_and_a_mismatch_by_its_difference():
    ok, msg = ex.close(3.0 + 1e-9, 3.0, rtol=1e-4, atol=1e-6)
    assert ok and msg == "matches the expected values"  # plain words, no seed-dependent number
    ok, msg = ex.close(2.5, 3.0)
    assert not ok and msg == "max abs difference 5.00e-01"
