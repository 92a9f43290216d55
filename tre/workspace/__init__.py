"""What runs inside a workspace: the researcher's client of the airlock.

    from tre.workspace import airlock
    request = airlock.submit(["outputs/table.csv"], context="Counts for table 1")
    airlock.status(request["id"])
"""

from tre.workspace import airlock

__all__ = ["airlock"]
