"""NoteSequences -> things a person can see and hear.

One job per module (imports run downwards only, no circles):

* `common.py`: parts of a sequence (`Part`) and their colours, the end time,
  note times clipped into the sequence. Imports nothing of the package.
* `midi.py`: `write_midi`, a standard MIDI file (drums on channel 10,
  programs kept, tracks named).
* `piano_roll.py`: `piano_roll_image` / `write_piano_roll_png`, a piano-roll
  picture (Pillow); `interpolation_strip`, every step of an interpolation in
  one picture.
* `soundfont.py`: FluidSynth with a GM SoundFont when the system has them
  (`find`, `synthesize`); writes its MIDI with `midi.py`.
* `audio.py`: `synthesize`, the built-in synthesiser (additive / FM voices,
  synthetic drums); `preview_audio`, FluidSynth if found else `synthesize`;
  `write_wav`.
* `html.py`: `write_index_html`, a self-contained page with rolls, players
  and links.

No JAX here; every input is a `note_seq.NoteSequence` proto. Times are
seconds; a time before 0 (GrooVAE's early first hit) counts as 0, never an
error.
"""

from musicvae_jax.render.audio import (
    RELEASE_SECONDS, audio_length, preview_audio, synthesize, write_wav)
from musicvae_jax.render.common import (
    BASS_COLOUR, DRUM_COLOUR, MELODY_COLOUR, OTHER_COLOURS, Part)
from musicvae_jax.render.html import write_index_html
from musicvae_jax.render.midi import MIDI_TICKS_PER_QUARTER, write_midi
from musicvae_jax.render.piano_roll import (
    BACKGROUND, BLACK_KEY_ROW, DRUM_BAND, DRUM_NAMES, GRID_BAR, GRID_BEAT, GRID_C,
    TEXT, TEXT_SOFT, TIMING_EARLY, TIMING_LATE, interpolation_strip,
    piano_roll_image, write_piano_roll_png)

# Internals that tests inspect as `render._x`.
from musicvae_jax.render.common import _part_styles
from musicvae_jax.render.piano_roll import (
    _darken, _default_labels, _header_height, _make_layout, _shade)
