"""``python -m rapidun`` (also what ``accelerate launch -m rapidun`` runs)."""

import sys

from rapidun.cli.main import main

sys.exit(main())
