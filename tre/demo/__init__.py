"""The demo, in one place (development only: ``tre up`` and ``tre demo`` use it).

``outputs``: a synthetic patient table and outputs made from it with statbarn (what
``tre demo`` writes and checks); ``ehr``: a synthetic OMOP-shaped health record, the
``ehr`` dataset; ``seed``: the demo's projects, datasets, memberships and logins.
An app: it uses the platform core (the catalog, tre.authz) and statbarn.
"""
