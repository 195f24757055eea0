"""Ratings: pure functions on a battles (or scores) DataFrame.

Imports only numpy, scipy and pandas (never ``objective``, ``judges``, ``ui``,
``arena.pipeline`` or ``arena.cli``). See :mod:`arena.ratings.io` for the battles table.
"""

from __future__ import annotations

from .agreement import (
    Agreement,
    PositionBias,
    agreement,
    agreement_matrix,
    cohen_kappa,
    pairwise_agreement,
    position_flip_rate,
)
from .bootstrap import bootstrap_bt, bt_leaderboard, confidence_intervals, rank_with_ci
from .bradley_terry import (
    BTFit,
    DisconnectedGraphError,
    SeparationWarning,
    fit_bt,
    predicted_win_matrix,
)
from .elo import bootstrap_elo, compute_elo, elo_leaderboard, elo_ratings
from .io import BattleFormatError, dedup_battles, encode_battles, load_battles, validate_battles
from .length_control import instruction_difficulty, length_controlled_win_rate
from .scores import aggregate_scores
from .style import DEFAULT_STYLE_FEATURES, StyleFit, fit_bt_style, style_leaderboard
from .winrate import (
    battle_count_matrix,
    describe_preferences,
    pairwise_win_matrix,
    win_rate_vs_baseline,
)

__all__ = [
    "Agreement",
    "BTFit",
    "BattleFormatError",
    "DEFAULT_STYLE_FEATURES",
    "DisconnectedGraphError",
    "PositionBias",
    "SeparationWarning",
    "StyleFit",
    "aggregate_scores",
    "agreement",
    "agreement_matrix",
    "battle_count_matrix",
    "bootstrap_bt",
    "bootstrap_elo",
    "bt_leaderboard",
    "cohen_kappa",
    "compute_elo",
    "confidence_intervals",
    "dedup_battles",
    "describe_preferences",
    "elo_leaderboard",
    "elo_ratings",
    "encode_battles",
    "fit_bt",
    "fit_bt_style",
    "instruction_difficulty",
    "length_controlled_win_rate",
    "load_battles",
    "pairwise_agreement",
    "pairwise_win_matrix",
    "position_flip_rate",
    "predicted_win_matrix",
    "rank_with_ci",
    "style_leaderboard",
    "validate_battles",
    "win_rate_vs_baseline",
]
