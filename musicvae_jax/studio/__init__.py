"""The studio: play with a trained MusicVAE in the browser.

  python -m musicvae_jax.studio --workdir=runs/folk_mel_2bar

* `latent.py`      mix weights, walks, joining windows (numpy)
* `projection.py`  latent map: PCA (or UMAP / openTSNE when installed)
* `media.py`       NoteSequence -> WAV / MIDI / PNG / npy bytes
* `engine.py`      `Studio`: the model, the results and their recipes
* `server.py`      the Starlette app (JSON API, media, the page)
* `static/`        the page: plain HTML, CSS and JS (WebAudio, canvas)
* `reproduce.py`   rebuild a saved result from the command line
"""
