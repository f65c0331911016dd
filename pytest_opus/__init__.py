"""pytest-opus: deploy and sign off the OPUS Update Boards Phase 0 database changes."""

__version__ = "0.1.0"
