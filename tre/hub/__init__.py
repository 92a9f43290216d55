"""JupyterHub for tre: the composition roots that wire the workspaces app into a hub.

``config`` (Docker) and ``kube_config`` (Kubernetes) configure JupyterHub; ``up`` and
``run`` start and stop it.  The spawners, plan, network and settings are in ``workspaces``.

The ``jupyterhub_config.py`` that ``tre up`` writes is a few lines that call
:func:`tre.hub.config.configure`.
"""
