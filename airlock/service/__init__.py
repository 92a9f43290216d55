"""The airlock's use cases: submit, check, decide, review, release, download.

Each use case is a function of an :class:`~airlock.service.context.Ctx` (the
database, the store, the authorisation point, the clock, the notifier) and the
calling user.  Each runs in one transaction that also writes its audit events,
and publishes its notifications only after that transaction has committed.
"""
