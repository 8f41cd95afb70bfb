"""Command line: ``python -m coursekit {doctor, list, pretrain NAME, rescore ddpm, studies, reproduce NAME}``."""
from __future__ import annotations

import argparse
import sys

from .core.checkpoints import pretrain_main, recipes
from .core.config import PROFILES
from .core.doctor import doctor
from .core.results import STUDIES, reproduce


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check the installation, data and checkpoints")
    p = sub.add_parser("pretrain", help="train a registered model and save it with its card")
    p.add_argument("name", help="recipe name (see `python -m coursekit list`)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tiny", action="store_true", help="seconds-long training (for tests)")
    p.add_argument("--out", default=None, help="folder (default data/checkpoints)")
    q = sub.add_parser("rescore", help="score a saved checkpoint's samples again (weights kept)")
    q.add_argument("name", choices=("ddpm",))
    sub.add_parser("list", help="list the pretrained recipes")
    sub.add_parser("studies", help="list the heavy studies whose results are committed")
    r = sub.add_parser("reproduce", help="run a study and save data/results/NAME.json")
    r.add_argument("names", nargs="*", help="study names (see `python -m coursekit studies`)")
    r.add_argument("--all", action="store_true", help="every study")
    r.add_argument("--profile", default="full", choices=PROFILES)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", default=None, help="folder (default data/results)")
    args = parser.parse_args(argv)
    try:
        if args.command == "doctor":
            return 0 if doctor() else 1
        if args.command == "list":
            for name, recipe in sorted(recipes().items()):
                print(f"{name:12s} {recipe.description}")
        elif args.command == "studies":
            for name, study in sorted(STUDIES.all().items()):
                print(f"{name:20s} notebook {study.notebook}: {study.description}")
        elif args.command == "rescore":
            from .recipes.diffusion import rescore_ddpm

            rescore_ddpm()
        elif args.command == "reproduce":
            names = sorted(STUDIES.all()) if args.all else args.names
            if not names:
                parser.error("name a study or pass --all (see `python -m coursekit studies`)")
            for name in names:
                reproduce(name, profile=args.profile, seed=args.seed, directory=args.out)
        else:
            pretrain_main(args.name, seed=args.seed, tiny=args.tiny, directory=args.out)
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
