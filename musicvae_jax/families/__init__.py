"""Model families, one folder each (see family.py for the protocol and the table)."""
