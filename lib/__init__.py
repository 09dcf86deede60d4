"""A character-level vanilla RNN in numpy: model math, training, run files, report text.

Every matrix here is small (100 x 100 at most), where a multithreaded BLAS spends
more time waking threads than computing: the complex-step gradient check runs
about six times slower with two OpenBLAS threads than with one. So, unless the
user chose a thread count (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or
MKL_NUM_THREADS), importing lib limits BLAS to one thread with threadpoolctl,
which works whenever lib is imported, before or after numpy (measured: the same
speed as setting the variables before numpy loads). Without threadpoolctl (a bare
python3 running data/shakespeare/prepare.py, which needs no BLAS) the variables
are set instead, for whatever loads numpy later.
"""

import os

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

if not any(os.environ.get(name) for name in _THREAD_VARIABLES):
    try:
        import numpy  # noqa: F401  (threadpoolctl limits the BLAS libraries already loaded, so load it)
        from threadpoolctl import threadpool_limits
    except ImportError:
        for _name in _THREAD_VARIABLES:
            os.environ[_name] = "1"
    else:
        threadpool_limits(limits=1, user_api="blas")
