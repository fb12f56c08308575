"""rapidun: influence-guided unlearning of large language models (RapidUn, arXiv 2512.04457).

Pipeline stages, one package each, imports flowing one way:
``data -> modeling -> training -> influence -> weighting -> unlearning -> evaluation -> reporting -> pipeline -> cli``.
"""

import os as _os

# torch's OpenMP threads spin-wait by default; on small shared CPU machines that made the same workload swing by
# up to 15x between runs. Passive waiting must be chosen before torch is imported, so we set it here (a user who
# set it, or imported torch first, keeps their choice).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
