"""The groove family (family.py: FAMILY)."""
