"""JupyterHub for tre: configuration as importable functions, the spawner, settings.

The ``jupyterhub_config.py`` that ``tre up`` writes is a few lines that call
:func:`tre.hub.config.configure`.
"""
