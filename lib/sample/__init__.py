"""Text from a trained model: ``sampling`` draws it (characters in, characters out), ``command``
is the command line (``python -m lib.sample MODEL``, ``charrnn-sample``), ``widget`` the
interactive sampler in Jupyter."""
