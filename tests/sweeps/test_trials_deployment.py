"""The deployment a sweep's trials run as on a pool stays apart from the experiment's schedule."""

from __future__ import annotations

from flows.deploy import deployment_for

SCHEDULED = "configs/scheduled.yaml"


def test_trials_deployment_has_its_own_name_and_no_schedule() -> None:
    """Registering it neither replaces the scheduled deployment nor queues trials one at a time."""
    scheduled = deployment_for(SCHEDULED, [])
    trials = deployment_for(SCHEDULED, [], trials=True)
    assert scheduled.schedules and scheduled.concurrency_limit == 1
    assert trials.name == f"{scheduled.name}-trials"
    assert not trials.schedules and trials.concurrency_limit is None
    assert trials.parameters == scheduled.parameters
