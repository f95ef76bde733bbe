"""The rule for the progress bar's fraction and the ETA (pure arithmetic, no clocks)."""

from __future__ import annotations

#: Trials finished in this session before an ETA is shown (or a wave of workers, if more).
ETA_MIN_DONE = 3


def fraction_and_eta(*, done: int, total: int | None, done_before: int, elapsed_s: float,
                     first_run_at_s: float | None, slots: int | None,
                     time_budget_s: float | None) -> tuple[float | None, float | None]:
    """The bar's fraction and the ETA in seconds (None until it means something).

    The rate is trials finished in this session (``done - done_before``) over the time since
    the first one ran (``elapsed_s - first_run_at_s``): start-up (Ray, workers) is not a
    trial's cost, and counting it made the first ETA of an 11-second sweep "2m30s". Before a
    wave of ``max(3, slots)`` trials has finished the rate says little (the first wave
    finishes together), so there is no ETA yet. A time budget bounds both: the fraction is at
    least the budget's used share, the ETA at most its remaining time.
    """
    fraction = eta = None
    if total:
        fraction = min(1.0, done / total)
        done_here = done - done_before
        remaining = max(0, total - done)
        running_for = elapsed_s - (first_run_at_s or 0.0)
        if remaining == 0:
            eta = 0.0
        elif done_here >= max(ETA_MIN_DONE, slots or 1) and running_for > 0:
            eta = remaining * running_for / done_here
    if time_budget_s:
        budget_fraction = min(1.0, elapsed_s / time_budget_s)
        budget_left = max(0.0, time_budget_s - elapsed_s)
        fraction = budget_fraction if fraction is None else max(fraction, budget_fraction)
        eta = budget_left if eta is None else min(eta, budget_left)
    return fraction, eta
