"""NoteSequences -> MIDI, piano rolls, audio and pages (being split into one
module per job; everything still lives in `piano_roll.py`)."""

from musicvae_jax.render.piano_roll import *  # noqa: F401,F403
from musicvae_jax.render.piano_roll import (  # noqa: F401  (used by tests)
    _darken, _default_labels, _header_height, _make_layout, _part_styles, _shade)
