"""What runs inside a workspace: the researcher's client of the airlock.

    from tre.workspace import airlock
    request = airlock.submit(["outputs/table.csv"], context="Counts for table 1")
    airlock.status(request["id"])
"""

# The client is tre.workspace.airlock_client (a module named ``airlock`` here read as the
# airlock package itself); notebooks and the welcome notebook in the image import it under
# the short name, which stays.
from tre.workspace import airlock_client as airlock

__all__ = ["airlock"]
