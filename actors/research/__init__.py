"""Research on Ray: the evaluation farm and the connection to a (local or remote) Ray cluster."""

from actors.research.farm import EvaluationFarm, FarmStats, ScoreFn, Spread, score_one
from actors.research.ray_runtime import RayHandle, connect

__all__ = ["EvaluationFarm", "FarmStats", "RayHandle", "ScoreFn", "Spread", "connect", "score_one"]
