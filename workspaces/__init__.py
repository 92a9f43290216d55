"""The workspace feature: one isolated container (or pod) and network per user and project.

``settings`` (TRE_WORKSPACE_*), ``plan`` (what a workspace is, the same for Docker and
Kubernetes) and ``kube_plan``, ``spawner`` / ``kube_spawner`` (JupyterHub spawners that
ask tre.authz), ``network`` (Docker networks and the host firewall), ``netpolicy`` (the
chart's NetworkPolicies checked), ``gate`` (the allow-list in front of the hub API),
``context`` (what the hub's spawners share).  ``image/`` is the workspace image's recipe.
An app: it imports the platform core and statbarn, never the airlock; the composition
roots (tre.hub.config, tre.hub.kube_config, tre.hub.up, the CLI) wire it into JupyterHub.
"""
