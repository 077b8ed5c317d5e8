"""Deprecated alias: the former ``lmalign.related`` was split by what its functions compute.

``bon_bounds`` (best-of-N relative entropy and win-rate closed forms and bounds), ``win_frontier`` (the
quantile-tilt frontier), ``subgaussian`` (the variance proxy and its gain bound), ``bon_vs_tilt`` (best-of-N
against the tilted family) and ``transforms.log_power_mean_calibration``. Importing a name from here still works
and warns once with its new home.
"""

from __future__ import annotations

import importlib
import warnings

_HOMES = {
    "binary_uniform_bon_kl": "bon_bounds",
    "bon_kl_gap_bound": "bon_bounds",
    "bon_kl_estimate": "bon_bounds",
    "bon_win_rate": "bon_bounds",
    "bon_win_rate_bound": "bon_bounds",
    "bon_win_gap_bound": "bon_bounds",
    "quantile_tilt_win": "win_frontier",
    "quantile_tilt_kl": "win_frontier",
    "quantile_tilt_param": "win_frontier",
    "frontier_win": "win_frontier",
    "bon_frontier_gap": "win_frontier",
    "subgaussian_variance_proxy": "subgaussian",
    "subgaussian_gain_bound": "subgaussian",
    "bon_log_ratio": "bon_vs_tilt",
    "bon_tilt_projection": "bon_vs_tilt",
    "log_power_mean_calibration": "transforms",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'lmalign.related' has no attribute {name!r}")
    home = f"lmalign.{_HOMES[name]}"
    warnings.warn(f"lmalign.related.{name} moved to {home}.{name}", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(home), name)
