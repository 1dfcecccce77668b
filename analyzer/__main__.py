import sys

from analyzer.cli import entry

sys.exit(entry())
