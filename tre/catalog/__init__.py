"""The project and dataset catalog: which datasets exist, which projects may use them.

* :mod:`tre.catalog.models`: the tables (projects, datasets, grants);
* :mod:`tre.catalog.service`: every change, authorised through :mod:`tre.authz` and
  audited in the same transaction, and the questions the spawner asks;
* :mod:`tre.catalog.members`: project memberships, which live in the policy
  (:mod:`tre.authz`), not here.
"""
