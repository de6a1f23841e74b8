"""Tools for Magenta's TensorFlow MusicVAE checkpoints (read without TensorFlow)."""
