"""Push the programme into Moodle: desired state, remote read, pure plan, journaled apply."""

from .apply import ApplyResult, PushOutcome, push
from .desired import Desired, desired_state
from .plan import Action, plan

__all__ = ["Action", "ApplyResult", "Desired", "PushOutcome", "desired_state", "plan", "push"]
