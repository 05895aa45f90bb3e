"""Write the alpha DSL reference to docs/DSL.md (or print it with --print)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.dsl.reference import reference_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "DSL.md"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="dsl_reference.py", description=__doc__)
    parser.add_argument("--print", action="store_true", help="print instead of writing")
    args = parser.parse_args(argv)
    if args.print:
        sys.stdout.write(reference_markdown())
    else:
        DOC.write_text(reference_markdown())
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
