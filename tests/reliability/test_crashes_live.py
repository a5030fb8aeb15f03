"""kill -9 of `suitecrm-ext run` at seeded random moments (change feed polling, dispatcher handing a
change to a plugin that writes into SuiteCRM, a resumable job half-way), restarted each time: the end
state in SuiteCRM's DB equals an uninterrupted run's (tests/reliability/crashes.py)."""

from __future__ import annotations

from crashes import cleanup, kill_rounds


def test_kill_9_rounds_end_as_an_uninterrupted_run(live_kit, live_lab, run_tag, tmp_path):
    try:
        out = kill_rounds(live_kit, live_lab, run_tag, tmp_path, rounds=2, seed=18, records=3, tasks=8)
    finally:
        cleanup(live_lab, run_tag)
    assert out.errors == []
    assert out.detail["crashes"] == 2
    assert (out.lost, out.duplicated) == (0, 0)
    assert out.expected == 2 * 3 + 8


def test_kill_9_rounds_of_a_1c_import_end_as_an_uninterrupted_import(live_kit, live_lab, run_tag, tmp_path):
    from onec_crashes import cleanup as onec_cleanup
    from onec_crashes import onec_kill_rounds

    out = None
    try:
        out = onec_kill_rounds(live_kit, live_lab, run_tag, tmp_path, rounds=1, seed=18, payers=4)
    finally:
        onec_cleanup(live_lab, run_tag, out)
    assert out.errors == []
    assert out.detail["crashes"] == 1  # a kill that came after the import ended is drawn again
    assert (out.lost, out.duplicated) == (0, 0)
    assert len(out.detail["reference"]) == 4
    assert out.detail["equal"] == [True] * (1 + out.detail["misses"])
