"""Composition root of the command line: ``python cli.py ...`` is ``suitecrm-ext ...``."""

from suitecrm_ext.cli import main

if __name__ == "__main__":
    main()
