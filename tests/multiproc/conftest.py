"""Make this directory's helper module importable under any pytest import mode (prepend or importlib)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread_like_the_workers():
    """The 2-process runs use one thread per worker (mp_launch sets OMP_NUM_THREADS=1); the 1-process reference
    run happens in this process, so it must use one thread too, or a different matmul reduction order (e.g. 2
    threads when CI leaves OMP_NUM_THREADS unset) shows up as ~1e-4 relative loss differences after Adam steps."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
