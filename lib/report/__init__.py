"""The report's text, computed from the run files (never typed in): ``report_inputs`` reads and
checks every file, ``report_text`` writes the sections' sentences and tables, ``spread`` says
how far the seeds' runs differ, ``evolution`` picks and labels the samples drawn in training.
The record-mode section is ``lib.records.record_report``; what the network learned is
``lib.inside``."""
