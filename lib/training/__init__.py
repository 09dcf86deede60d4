"""Training and its run folder.

``train`` is the course's loop; ``runner`` is one run as the train notebook and make see it
(settings in, a finished run folder out), with ``resume`` deciding what a folder's run allows
and ``finish`` writing a finished run's files. ``run_folder`` and ``folder_lock`` keep a
folder's lifecycle (claimed, running, interrupted, finished, retrained beside it);
``run_files`` and ``checkpoint`` read and write its files; ``progress`` and ``loss_plot``
show a run.
"""
