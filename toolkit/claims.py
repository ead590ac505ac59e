"""Verdicts on a paper's claims that account for the uncertainty of what decides them."""

from __future__ import annotations

HOLDS, FAILS, UNDECIDED = "holds", "does not hold with this potential", "undecided: error too large"


def verdict(value: float, error: float, threshold: float, above: bool = True, n_sigma: float = 2.0) -> str:
    """Whether ``value`` ± ``error`` (1σ) lies above ``threshold`` (below it with ``above=False``).

    :data:`HOLDS` where the whole ``n_sigma`` interval is on the claimed side, :data:`FAILS` where it is all on the
    other side, :data:`UNDECIDED` where it straddles the threshold. The error should include the potential's
    error against DFT on the deciding quantity where that is known, not only the statistical one.
    """
    if error < 0 or error != error:
        raise ValueError(f"error = {error}: a 1σ error is a non-negative number")
    low, high = value - n_sigma * error, value + n_sigma * error
    if not above:
        low, high, threshold = -high, -low, -threshold
    return HOLDS if low > threshold else FAILS if high < threshold else UNDECIDED
