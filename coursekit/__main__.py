"""Command line: ``python -m coursekit doctor`` and ``python -m coursekit pretrain NAME``."""
from __future__ import annotations

import argparse
import sys

from .doctor import doctor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check the installation, data and checkpoints")
    p = sub.add_parser("pretrain", help="train a registered model and save it with its card")
    p.add_argument("name", help="recipe name (see `python -m coursekit list`)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tiny", action="store_true", help="seconds-long training (for tests)")
    p.add_argument("--out", default=None, help="folder (default data/checkpoints)")
    sub.add_parser("list", help="list the pretrained recipes")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return 0 if doctor() else 1
    from .checkpoints import pretrain_main, recipes

    if args.command == "list":
        for name, r in sorted(recipes().items()):
            print(f"{name:12s} {r.description}")
        return 0
    try:
        pretrain_main(args.name, seed=args.seed, tiny=args.tiny, directory=args.out)
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
