"""Helper package for the solid-state ionics study notebooks.

Science modules take and return ASE ``Atoms`` and phonopy objects; widgets live in
:mod:`toolkit.widgets` and are never imported by the science modules.
"""

import logging
import os
import sys

# The toolkit's own linear algebra is on 3x3 to few-hundred-square matrices, where OpenBLAS
# worker threads gain nothing and spin against torch's threads: a cell relaxation ran 47x
# slower with them on 2 cores (112 s against 2.4 s). TOOLKIT_BLAS_THREADS overrides.
_BLAS_THREADS = int(os.environ.get("TOOLKIT_BLAS_THREADS", "1"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(_BLAS_THREADS))  # libraries loaded from now on

import scipy.linalg  # noqa: E402,F401  (load scipy's BLAS now, so the limit below reaches it)
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(_BLAS_THREADS, user_api="blas")  # libraries already loaded (numpy imported first)

__version__ = "0.1.0"


class _Stdout(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a message comes (a notebook's, or a test's capture)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _):
        pass


# The toolkit says which potential it uses and what a long run is doing at INFO level, on its own logger only
# (``logging.getLogger("toolkit")``: set its level or handlers to change that); the root logger is left alone.
_log = logging.getLogger(__name__)
if not _log.handlers:
    _handler = _Stdout()
    _handler.setFormatter(logging.Formatter("toolkit: %(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(logging.INFO)
    _log.propagate = False
