"""`python -m data_access ...`: see data_access/cli.py."""

from data_access.cli import main

raise SystemExit(main())
