import sys

from racetrace.cli import main

sys.exit(main())
