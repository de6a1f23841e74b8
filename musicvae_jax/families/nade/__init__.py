"""The nade family (family.py: FAMILY)."""
