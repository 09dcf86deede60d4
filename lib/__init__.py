"""A character-level vanilla RNN in numpy: model math, training, run files, report text.

Every matrix here is small (100 x 100 at most), where a multithreaded BLAS spends
more time waking threads than computing: the complex-step gradient check runs
about six times slower with two OpenBLAS threads than with one. So, unless the
user chose otherwise, ask for one thread before numpy is first imported.
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
