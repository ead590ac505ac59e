"""Command line: ``python -m toolkit run|info|fetch``."""

from __future__ import annotations

import argparse
import sys


def _info() -> int:
    from toolkit import potentials
    from toolkit.provenance import package_versions

    print("versions:")
    for name, version in package_versions().items():
        print(f"  {name:12s} {version}")
    print(f"offline mode ({potentials.OFFLINE_ENV}): {'on' if potentials.offline() else 'off'}")
    print("potentials available offline:")
    for row in potentials.available_offline():
        print(f"  {row['name']:18s} {row['source']:22s} {row['path']}")
    name, reason = potentials.auto_choice()
    print(f"auto picks: {name} ({reason})")
    return 0


def main(argv: list[str] | None = None) -> int:
    from toolkit.runner import MODES, STUDIES

    parser = argparse.ArgumentParser(prog="python -m toolkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a study notebook headless")
    run.add_argument("study", choices=[*STUDIES, "all"])
    run.add_argument("--mode", choices=MODES, default="quick")
    run.add_argument("--out", default="results", help="output folder (for 'all': one subfolder per study)")
    run.add_argument("--potential", default="auto")
    run.add_argument("--seed", type=int, default=0)
    sub.add_parser("info", help="versions, offline potentials, and what 'auto' picks")
    fetch = sub.add_parser("fetch", help="download MACE-MP-0 models into mace-torch's cache (needs network)")
    fetch.add_argument("models", nargs="*", default=["mace-mp-0-small", "mace-mp-0-medium"])
    args = parser.parse_args(argv)

    if args.command == "info":
        return _info()
    if args.command == "fetch":
        from toolkit.potentials import fetch_mace_mp

        for name in args.models:
            print(f"{name}: {fetch_mace_mp(name)}")
        return 0
    from toolkit.runner import run_all, run_study

    if args.study == "all":
        run_all(args.mode, args.out, args.potential, args.seed)
    else:
        run_study(args.study, args.mode, args.out, args.potential, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
