"""Statistics that decide whether an alpha is real.

Purged K-fold and walk-forward splits, combinatorial purged CV, PSR/DSR, PBO by CSCV, multiple
testing, block-bootstrap Sharpe intervals and a look-ahead / recursive-bias detector.

All functions are pure; randomness only comes from an explicit seed or generator. Sharpe
ratios in :mod:`core.validation.sharpe_tests` are per period (not annualised) and kurtosis is
non-excess (normal = 3). Bad inputs raise :class:`ValidationError` (a ``BacktestError``).
"""

from core.validation.bootstrap import (
    SharpeCI,
    bootstrap_indices,
    default_block_length,
    sharpe_bootstrap_ci,
)
from core.validation.cpcv import CPCV, cpcv
from core.validation.lookahead import BiasReport, Divergence, detect_bias
from core.validation.multiple_testing import MultipleTestResult, benjamini_hochberg, holm
from core.validation.pbo import PBOResult, pbo_cscv, probability_of_backtest_overfitting
from core.validation.sharpe_tests import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_track_record_length,
    probabilistic_sharpe_ratio,
    psr_from_returns,
)
from core.validation.splits import Split, ValidationError, purged_kfold, walk_forward

__all__ = [
    "CPCV",
    "BiasReport",
    "Divergence",
    "MultipleTestResult",
    "PBOResult",
    "SharpeCI",
    "Split",
    "ValidationError",
    "benjamini_hochberg",
    "bootstrap_indices",
    "cpcv",
    "default_block_length",
    "deflated_sharpe_ratio",
    "detect_bias",
    "expected_max_sharpe",
    "holm",
    "min_track_record_length",
    "pbo_cscv",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "psr_from_returns",
    "purged_kfold",
    "sharpe_bootstrap_ci",
    "walk_forward",
]
