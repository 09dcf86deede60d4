"""Notebooks as commands: ``stage`` runs one as a make stage (all or nothing, one line when it
fails), ``nbexec`` executes and converts them, ``front_end`` tells whether a person is looking."""
