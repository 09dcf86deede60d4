"""Record mode: short texts (names, titles, tweets, speeches) learnt and generated whole.

A file of records is read (``read_records``): one record per line (any file but
``.json``/``.jsonl``), a JSON array of strings or of objects (``.json``), or JSON
Lines (``.jsonl``, ``.ndjson``), objects giving their text in ``record_field``.
Empty (blank) records are skipped and counted; records longer than
``max_record_len`` are cut there and counted.

The records become one training text (``join``): a boundary character ``B`` that
occurs in no record, then each record followed by ``B``::

    B record_1 B record_2 B ... record_n B

so record i is the sequence from its opening boundary to its closing one, the
closing boundary of one record being the opening one of the next. The boundary
is part of the vocabulary and of the model file's metadata (``boundary``,
``records: true``); ``visible`` shows it (and a newline inside a record) as a
visible symbol.

Training (``lib.training.train.train`` with ``record_mode``) walks each record as one
sequence from h = 0: inputs ``B r_1 .. r_n``, targets ``r_1 .. r_n B``, in
``seq_length`` chunks (the last one shorter), the hidden state carried within the
record. The records are visited in a new order each epoch, a permutation drawn
from the run's seed and the epoch number alone (``epoch_order``), so a resumed run
needs no extra state to continue the same order. ``val_fraction`` holds out the
last records of the file, whole; their bits per character (``heldout_bits``) are
measured over each record's characters and its closing boundary, from h = 0.

The modules: ``record_files`` reads a file and joins its records, ``record_walk`` is the
training side (the epoch walk, a run's records), ``record_sampling`` draws records from a
model, ``speeches`` makes the demonstration's records from the default corpus, and
``record_report`` is the report's "Bonus: short texts" section. The training loop knows none
of them: it takes the walk that ``record_walk.record_mode`` hands it.
"""
