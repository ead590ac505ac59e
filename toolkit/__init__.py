"""Helper package for the solid-state ionics study notebooks.

Science modules take and return ASE ``Atoms`` and phonopy objects; widgets live in
:mod:`toolkit.widgets` and are never imported by the science modules.
"""

import os

# The toolkit's own linear algebra is on 3x3 to few-hundred-square matrices, where OpenBLAS
# worker threads gain nothing and spin against torch's threads: a cell relaxation ran 47x
# slower with them on 2 cores (112 s against 2.4 s). TOOLKIT_BLAS_THREADS overrides.
_BLAS_THREADS = int(os.environ.get("TOOLKIT_BLAS_THREADS", "1"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(_BLAS_THREADS))  # libraries loaded from now on

import scipy.linalg  # noqa: E402,F401  (load scipy's BLAS now, so the limit below reaches it)
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(_BLAS_THREADS, user_api="blas")  # libraries already loaded (numpy imported first)

__version__ = "0.1.0"
