import sys

from ptc.cli import entry

sys.exit(entry())
