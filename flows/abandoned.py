"""Flow runs left RUNNING by a killed process are marked Crashed when their run resumes.

A run started directly (`ftkit run`) whose process is SIGKILLed stays RUNNING in Prefect for
good (nothing is left to report its end; see ../shared/reference/prefect.md §3.6). The next
attempt on the same run folder knows that flow run's id from run.json and settles it.
"""

from __future__ import annotations

from uuid import UUID

from prefect import get_client, get_run_logger
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed


async def settle_abandoned(flow_run_id: str | None, current_id: str) -> None:
    """Mark an earlier attempt's flow run Crashed if it is still RUNNING (or PENDING)."""
    if flow_run_id is None or flow_run_id == current_id:
        return
    async with get_client() as prefect:
        try:
            earlier = await prefect.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:  # another Prefect API, or a deleted run: nothing to settle
            return
        if earlier.state is None or earlier.state.type not in (
            StateType.RUNNING,
            StateType.PENDING,
        ):
            return
        message = f"Abandoned: its process died; flow run {current_id} resumed the run."
        await prefect.set_flow_run_state(earlier.id, Crashed(message=message), force=True)
    get_run_logger().warning(
        "Flow run %s was left %s; marked Crashed", flow_run_id, earlier.state.type.value
    )
