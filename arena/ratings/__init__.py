"""Ratings: pure functions on a battles (or scores) DataFrame.

Imports only numpy, scipy and pandas (never ``objective``, ``judges``, ``ui``,
``arena.pipeline`` or ``arena.cli``). See :mod:`arena.ratings.io` for the battles table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# eager (numpy and pandas only): `agreement` names both a function and its submodule, and
# importing the submodule would otherwise leave the package attribute bound to the module
from .agreement import (
    Agreement,
    PositionBias,
    agreement,
    agreement_matrix,
    cohen_kappa,
    pairwise_agreement,
    position_flip_rate,
)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
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

_WHERE = {  # public name -> submodule: imported on first use (PEP 562), so `import
    # arena.ratings.agreement` or a CLI that needs one function does not load scipy
    "BTFit": "bradley_terry",
    "BattleFormatError": "io",
    "DEFAULT_STYLE_FEATURES": "style",
    "DisconnectedGraphError": "bradley_terry",
    "SeparationWarning": "bradley_terry",
    "StyleFit": "style",
    "aggregate_scores": "scores",
    "battle_count_matrix": "winrate",
    "bootstrap_bt": "bootstrap",
    "bootstrap_elo": "elo",
    "bt_leaderboard": "bootstrap",
    "compute_elo": "elo",
    "confidence_intervals": "bootstrap",
    "dedup_battles": "io",
    "describe_preferences": "winrate",
    "elo_leaderboard": "elo",
    "elo_ratings": "elo",
    "encode_battles": "io",
    "fit_bt": "bradley_terry",
    "fit_bt_style": "style",
    "instruction_difficulty": "length_control",
    "length_controlled_win_rate": "length_control",
    "load_battles": "io",
    "pairwise_win_matrix": "winrate",
    "predicted_win_matrix": "bradley_terry",
    "rank_with_ci": "bootstrap",
    "style_leaderboard": "style",
    "validate_battles": "io",
    "win_rate_vs_baseline": "winrate",
}


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'arena.ratings' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
