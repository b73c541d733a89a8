"""Repeated looks at growing data with the family-wise error still at α: alpha spending over looks.

A sequential check looks at the data after each round of seeds and may stop. Testing every look at the full α
inflates the error (Armitage, McPherson & Rowe 1969). scrutiny spends α over the looks (Lan & DeMets 1983,
"Discrete sequential boundaries for clinical trials", Biometrika 70(3)): look k may use the increment
``α(t_k) - α(t_{k-1})`` of a spending function ``α(t)`` of the information fraction ``t_k = n_k / n_max``, and a
hypothesis decided at a look stays decided. scrutiny uses the linear (Pocock-type) function ``α(t) = α·t`` and
bounds the error of the looks together by the union bound, so the guarantee holds whatever the correlation between
looks (it is conservative: exact group-sequential boundaries would spend the same α a little more efficiently).
Within a look, the look's increment is shared over the family by Holm's procedure.
"""

from __future__ import annotations


def spent_alpha(alpha: float, n_now: int, n_before: int, n_max: int) -> float:
    """The α increment of a look at ``n_now`` seeds per arm after a look at ``n_before`` (0: the first look).

    Linear spending ``α(t) = α · min(1, t)`` with ``t = n / n_max``; the increments over looks up to ``n_max`` sum to α.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"spent_alpha: alpha must be in (0, 1), got {alpha!r}")
    if n_max < 1 or n_now < n_before or n_before < 0:
        raise ValueError(f"spent_alpha: need 0 <= n_before <= n_now and n_max >= 1, got {n_before}, {n_now}, {n_max}")

    def spend(n: int) -> float:
        return alpha * min(1.0, n / n_max)

    return spend(n_now) - spend(n_before)
