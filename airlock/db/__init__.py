"""The airlock's tables (migration 0002_airlock) and the functions that read and write them."""
