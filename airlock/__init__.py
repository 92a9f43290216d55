"""The airlock export service; built by the airlock issue."""
