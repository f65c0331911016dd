"""pytest hook implementations for pytest-opus; each hook delegates to a library module."""
