"""The categorical family (family.py: FAMILY)."""
