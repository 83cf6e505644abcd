import sys

from weakseg.cli import main

sys.exit(main())
