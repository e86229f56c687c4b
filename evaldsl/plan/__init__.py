"""Planning: a checked `Spec` → the execution graph of typed, content-hashed nodes."""

from .graph import Graph
from .planner import PlanError, plan

__all__ = ["Graph", "PlanError", "plan"]
