"""`python -m desktop` runs Hearth."""

from desktop.app import main

raise SystemExit(main())
