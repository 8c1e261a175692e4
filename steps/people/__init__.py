"""The people side of the migration runbook (SRE handbook, "Migration Safety Plan").

    T-0     confirm_on_call        the on-call person confirms standby (an approval with a deadline)
            send_notice            stakeholders hear that the change window starts (``comms`` entries)
    T+1h    review_t_plus_1h       the plan's ``slo:`` over the migration so far (``slo_check``), and the
                                   errors and warnings in the journal and the run's Prefect logs (``log_review``)
    T+24h   review_t_plus_24h      alerts fired between T-0 and now (``incident_count``)
    report  lessons learned        ``odin_drills.reports.people``: the numbers pre-filled, the rest to fill in

The phases in ``flows/migration.py`` call these; each reads the plan, the journal and (for the
reviews) the metric source, the alert source and the Prefect API, and journals what it found. The
T-0 items act (a refusal before anything changed); the reviews never do: the gates decide.
"""

from odin_drills.steps.people.reviews import review_t_plus_1h, review_t_plus_24h
from odin_drills.steps.people.t0 import NOTICE_STEP, ON_CALL_STEP, confirm_on_call, send_notice

__all__ = ["NOTICE_STEP", "ON_CALL_STEP", "confirm_on_call", "review_t_plus_1h", "review_t_plus_24h", "send_notice"]
