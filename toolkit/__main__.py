"""Command line: ``python -m toolkit run|reproduce|sweep|screen|distill|anchors|info|store|fetch``."""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial


def _info() -> int:
    from toolkit import potentials
    from toolkit.provenance import package_versions
    from toolkit.students import cards

    print("versions:")
    for name, version in package_versions().items():
        print(f"  {name:12s} {version}")
    print(f"offline mode ({potentials.OFFLINE_ENV}): {'on' if potentials.offline() else 'off'}")
    print("potentials available offline:")
    for row in potentials.available_offline():
        print(f"  {row['name']:18s} {row['source']:22s} {row['path']}")
    name, reason = potentials.auto_choice()
    print(f"auto picks: {name} ({reason})")
    for study, card in potentials.available_students().items():
        speed = card["speed"]
        print(f"student:{study}: distilled from {card['teacher']['name']}; one force call on {speed['cell']} "
              f"({speed['n_atoms']} atoms, through ASE) is {speed['speedup']:.1f}x faster than its teacher's "
              "(MD on the toolkit's compiled engine gains more: docs/benchmarks.md)")
        sections = {"whole notebook": None, **cards.STUDENT_SECTIONS.get(study, {})}
        for section, rows in sections.items():
            agrees, why = cards.student_serves(card, rows)
            print(f"  quick mode, {section}: {'uses it' if agrees else 'does not use it'} when auto picks its "
                  f"teacher ({why})")
    return 0


def _store(args) -> int:
    from toolkit.store import TASK_SCHEMAS, ResultsStore

    store = ResultsStore(args.path) if args.path else ResultsStore()
    if args.action == "clear":
        removed = store.clear(args.task)
        print(f"toolkit: removed {removed} stored result(s){' of ' + args.task if args.task else ''} "
              f"and their checkpoints from {store.root}")
        return 0
    info = store.summary()
    print(f"store: {info['root']} ({info['bytes'] / 1e6:.1f} MB on disk, {info['checkpoints']} checkpoint files)")
    for task, count in sorted(info["rows_by_task"].items()):
        schema = TASK_SCHEMAS.get(task.split(":")[0], 1)
        print(f"  {task:40s} {count:6d} result(s)  (current schema {schema})")
    if not info["rows_by_task"]:
        print("  (empty)")
    return 0


def _anchors(args) -> int:
    from pathlib import Path

    from toolkit.anchors import ANCHOR_DIR, point_path, run_campaign
    from toolkit.store import ResultsStore

    root, store, extra = Path(args.out) if args.out else ANCHOR_DIR, ResultsStore(), {}
    relaxed = point_path(args.study, "relaxed-BaSnO3", root)
    if args.study == "proton-phonon" and relaxed.is_file():
        # the claim's own cells come from the study's research step, which the anchors module cannot import
        from toolkit import doped_anchors
        from toolkit.potentials import load_potential
        from toolkit.studies import proton_phonon_research as ppr

        student = load_potential(ppr.STUDENT)
        extra = {**doped_anchors.campaign(ppr.doped_soft_mode(student, store), json.loads(relaxed.read_text())["lattice_A"]),
                 **doped_anchors.transfer_campaign(ppr.transfer_path(student, store))}
    written = run_campaign(args.study, root, store=store, only=args.only, extra=extra,
                           on_point=partial(_commit, command="anchors", what="DFT point") if args.commit else None)
    print(f"toolkit: {len(written)} new anchor point(s) for {args.study}; nothing left to compute")
    return 0


#: study -> the module whose ``campaign()`` lists its research points (``python -m toolkit reproduce <study>``).
CAMPAIGNS = {"liga-alloy": "toolkit.studies.liga_alloy_research",
             "oxyhalide-volcano": "toolkit.studies.oxyhalide_volcano_research",
             "proton-phonon": "toolkit.studies.proton_phonon_research"}


def _commit(path, command: str = "reproduce", what: str = "research point") -> None:
    """Commit one finished point file to git, alone (other staged changes stay staged)."""
    import subprocess
    import time

    for attempt in range(3):  # another git command may hold the index lock for a moment
        added = subprocess.run(["git", "add", str(path)], capture_output=True, text=True)
        done = added.returncode == 0 and subprocess.run(
            ["git", "commit", "-q", "-m", f"{command}: {what} {path.stem}", "--", str(path)],
            capture_output=True, text=True).returncode == 0
        if done:
            return
        time.sleep(2 * (attempt + 1))
    print(f"toolkit: could not commit {path} (commit it by hand)", file=sys.stderr)


def _reproduce(args) -> int:
    import importlib

    from toolkit.campaign import campaign_dir, missing, run_campaign

    if args.study not in CAMPAIGNS:
        print(f"no research campaign for {args.study!r} yet; studies with one: {', '.join(CAMPAIGNS)}", file=sys.stderr)
        return 2
    points = importlib.import_module(CAMPAIGNS[args.study]).campaign()
    if args.only:
        points = [p for p in points if any(p.name.startswith(prefix) for prefix in args.only)]
    todo = missing(args.study, points)
    print(f"toolkit: {args.study}: {len(points) - len(todo)} of {len(points)} research point(s) committed in "
          f"{campaign_dir(args.study)}; {len(todo)} left", flush=True)
    for point in todo if args.status else []:
        print(f"  to compute: {point.name} ({point.potential})")
    if args.status or not todo:
        return 0
    client = None
    if args.workers > 1:
        from toolkit.sweeps import connect

        client = connect(args.scheduler, n_workers=args.workers)
        print(f"toolkit: {args.workers} workers on {args.scheduler}; dashboard {client.dashboard_link}", flush=True)
    try:
        run_campaign(args.study, points, client, torch_threads=args.threads,
                     on_point=_commit if args.commit else None)
    finally:
        if client is not None:
            client.close()
    print(f"toolkit: {args.study}: nothing left to compute")
    return 0


def _sweep(args) -> int:
    import json
    import time
    from pathlib import Path

    from toolkit.provenance import package_versions, write_json_atomic
    from toolkit.sweeps import STUDY_TASKS, connect, load_grid, run_sweep

    if args.study not in STUDY_TASKS:
        print(f"no sweep task for {args.study!r}; studies with one: {', '.join(STUDY_TASKS)}", file=sys.stderr)
        return 2
    grid = load_grid(args.grid)
    started = time.time()
    client = connect(args.scheduler, n_workers=args.workers)
    print(f"toolkit: {len(grid)} points on {args.scheduler}; dashboard {client.dashboard_link}", flush=True)
    try:
        results = run_sweep(STUDY_TASKS[args.study], grid, client)
    finally:
        client.close()
    record = {
        "study": args.study,
        "command": f"python -m toolkit sweep {args.study} --grid {Path(args.grid).name} --scheduler {args.scheduler}",
        "grid": json.loads(Path(args.grid).read_text()),
        "provenance": {"versions": package_versions(), "wall_time_s": round(time.time() - started, 1),
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        "rows": [{"parameters": p, "result": r} for p, r in zip(grid, results)],
    }
    if args.out:
        write_json_atomic(args.out, record)
    else:
        print(json.dumps(record, indent=1))
    return 0


def _screen(args) -> int:
    import json
    import time

    from toolkit.provenance import package_versions, write_json_atomic
    from toolkit.studies.your_material import ranked_markdown
    from toolkit.sweeps import connect, screen_folder

    started = time.time()
    client = connect(args.scheduler, n_workers=args.workers)
    print(f"toolkit: screening the CIFs of {args.folder} for {args.ion} on {args.scheduler}; dashboard "
          f"{client.dashboard_link}", flush=True)
    try:
        rows = screen_folder(args.folder, args.ion, client, args.mode, args.potential, args.seed,
                             json.loads(args.changes) if args.changes else None)
    finally:
        client.close()
    print(ranked_markdown(rows))
    if args.out:
        write_json_atomic(args.out, {
            "command": f"python -m toolkit screen {args.folder} --ion {args.ion} --mode {args.mode}",
            "provenance": {"versions": package_versions(), "wall_time_s": round(time.time() - started, 1),
                           "seed": args.seed, "changes": args.changes},
            "rows": rows})
    return 0


def _distill(args) -> int:
    from dataclasses import replace

    from toolkit.students.cards import anchor_markdown
    from toolkit.students.distill import distill, recompare, retime
    from toolkit.students.training import settings_for

    settings = settings_for(args.study)
    if args.epochs:
        settings = replace(settings, max_epochs=args.epochs)
    where = {"out_dir": args.out} if args.out else {}
    if args.recompare:
        card = recompare(args.study, args.teacher, **where)
    elif args.retime:
        card = retime(args.study, args.teacher, **where)
    else:
        card = distill(args.study, args.teacher, seed=args.seed or 0, settings=settings,
                       train_scale=1.0 if args.scale is None else args.scale, anchor=args.anchor,
                       properties=not args.no_properties, **where)
    errors = card["held_out_errors"]
    print(f"toolkit: student of {card['teacher']['name']} for {args.study}: held-out force RMSE "
          f"{errors['force_rmse_meV_A']:.0f} meV/Å, energy RMSE {errors['energy_rmse_meV_atom']:.1f} meV/atom, "
          f"{card['speed']['speedup']:.1f}x faster; card {card['model_file'].replace('.model', '.json')}")
    for name, row in card.get("properties", {}).items():
        print(f"  {name:32s} teacher {row['teacher']}  student {row['student']}  {'agrees' if row['agrees'] else 'DIFFERS'}")
    if "against_dft" in card:
        print(anchor_markdown(card))
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
    run.add_argument("--structure", default=None,
                     help="your-material: a CIF (or a shipped example: Li3N, 'Na3PS4 (cubic)')")
    run.add_argument("--ion", default=None, help="your-material: the mobile ion (default: the example's, or Li)")
    run.add_argument("--amorphous", action="store_true",
                     help="your-material: also melt-quench a glass and compare its transport with the crystal's")
    run.add_argument("--jobs", type=int, default=1,
                     help="for 'all': studies run at once, each on one torch thread (memory: ~1.6 GB each)")
    reproduce = sub.add_parser("reproduce", help="compute a study's research points (resumes from the committed files)")
    reproduce.add_argument("study", help="a study with a research campaign (liga-alloy, proton-phonon, oxyhalide-volcano)")
    reproduce.add_argument("--resume", action="store_true",
                           help="continue from the committed points (always the case: a finished point is never redone)")
    reproduce.add_argument("--status", action="store_true", help="list what is left and compute nothing")
    reproduce.add_argument("--only", nargs="*", default=None, help="only the points whose names start so")
    reproduce.add_argument("--workers", type=int, default=1, help="Dask workers (1: run here, one point at a time)")
    reproduce.add_argument("--threads", type=int, default=None, help="torch threads per worker (default: torch's)")
    reproduce.add_argument("--scheduler", default="local", help="local, slurm, pbs, gateway, or tcp://host:port")
    reproduce.add_argument("--commit", action="store_true", help="git-commit each point's file as it is written")
    screen = sub.add_parser("screen", help="notebook 04's steps on every CIF of a folder on Dask: a ranked table")
    screen.add_argument("folder", help="a folder of *.cif files")
    screen.add_argument("--ion", required=True, help="the mobile ion (a file without it is listed as refused)")
    screen.add_argument("--mode", choices=MODES, default="quick")
    screen.add_argument("--potential", default="auto")
    screen.add_argument("--seed", type=int, default=0)
    screen.add_argument("--changes", default=None,
                        help='JSON of MaterialSettings changes, e.g. \'{"md_ps": 2.0, "md_runs": 3}\'')
    screen.add_argument("--scheduler", default="local", help="local, slurm, pbs, gateway, or tcp://host:port")
    screen.add_argument("--workers", type=int, default=None, help="workers to start or scale to")
    screen.add_argument("--out", default=None, help="also write the rows with provenance as JSON here")
    sweep = sub.add_parser("sweep", help="run a study's parameter sweep on Dask (resumable)")
    sweep.add_argument("study", help="a study with a sweep task (see toolkit.sweeps.STUDY_TASKS)")
    sweep.add_argument("--grid", required=True, help="JSON file: a list of parameter sets, or a dict of lists")
    sweep.add_argument("--scheduler", default="local", help="local, slurm, pbs, gateway, or tcp://host:port")
    sweep.add_argument("--workers", type=int, default=None, help="workers to start or scale to")
    sweep.add_argument("--out", default=None, help="write the results as JSON here (default: print)")
    distill = sub.add_parser("distill", help="train a small, fast MACE student of a study on a teacher's labels")
    distill.add_argument("study", help="proton-phonon, oxyhalide-volcano or liga-alloy")
    distill.add_argument("--teacher", default="auto", help="any name load_potential takes (default: auto)")
    # training options default to None, so that --recompare and --retime (which train nothing) can tell
    # they were given
    distill.add_argument("--seed", type=int, default=None, help="seed of sampling and training (default 0)")
    distill.add_argument("--epochs", type=int, default=None, help="training epochs (default: StudentSettings)")
    distill.add_argument("--scale", type=float, default=None,
                         help="multiply the number of training configurations (default 1)")
    distill.add_argument("--out", default=None, help="folder for <study>.model and .json (default: the package's)")
    distill.add_argument("--no-properties", action="store_true",
                         help="leave the teacher/student property table off the card (--recompare adds it later)")
    distill.add_argument("--anchor", choices=["dft"], default=None,
                         help="train on the study's DFT anchor frames too (toolkit/reference_data/dft), weighted")
    kept = distill.add_mutually_exclusive_group()
    kept.add_argument("--recompare", action="store_true",
                      help="keep the student there and recompute its card's teacher/student properties")
    kept.add_argument("--retime", action="store_true",
                      help="keep the student there and time its force call and its teacher's again")
    sub.add_parser("info", help="versions, offline potentials, and what 'auto' picks")
    anchors = sub.add_parser("anchors", help="compute a study's DFT anchor points (GPAW; resumes from the files there)")
    anchors.add_argument("study", help="liga-alloy, proton-phonon or oxyhalide-volcano")
    anchors.add_argument("--only", nargs="*", default=None, help="compute only these points")
    anchors.add_argument("--out", default=None, help="folder of <study>/<point>.json (default: the package's)")
    anchors.add_argument("--commit", action="store_true", help="git-commit each point's file as it is written")
    store = sub.add_parser("store", help="show the results store, or empty it")
    store.add_argument("action", choices=["info", "clear"])
    store.add_argument("--task", default=None, help="for clear: only this task's results (e.g. md, neb, relax)")
    store.add_argument("--path", default=None, help="the store's folder (default: $TOOLKIT_STORE or ~/.cache/toolkit)")
    fetch = sub.add_parser("fetch", help="download MACE-MP-0 models into mace-torch's cache (needs network)")
    fetch.add_argument("models", nargs="*", default=["mace-mp-0-small", "mace-mp-0-medium"])
    args = parser.parse_args(argv)
    if args.command == "distill" and (args.recompare or args.retime):
        kept_flag = "--recompare" if args.recompare else "--retime"
        given = [f"--{name}" for name in ("seed", "epochs", "scale", "anchor") if getattr(args, name) is not None]
        if given:
            parser.error(f"{kept_flag} keeps the shipped student and remeasures its card; {', '.join(given)} would "
                         f"change only a new student's training: drop {'them' if len(given) > 1 else 'it'}, or leave "
                         f"out {kept_flag} to train one")

    if args.command == "info":
        return _info()
    if args.command == "fetch":
        from toolkit.potentials import fetch_mace_mp

        for name in args.models:
            print(f"{name}: {fetch_mace_mp(name)}")
        return 0
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "screen":
        return _screen(args)
    if args.command == "reproduce":
        return _reproduce(args)
    if args.command == "store":
        return _store(args)
    if args.command == "anchors":
        return _anchors(args)
    if args.command == "distill":
        return _distill(args)
    from toolkit.runner import run_all, run_study

    own = {k: v for k, v in (("structure", args.structure), ("ion", args.ion), ("amorphous", args.amorphous or None))
           if v is not None}
    if own and args.study != "your-material":
        print(f"--structure, --ion and --amorphous belong to 'run your-material', not to {args.study!r}", file=sys.stderr)
        return 2
    if "structure" in own:
        from pathlib import Path

        from toolkit.studies.your_material import EXAMPLES

        if own["structure"] not in EXAMPLES:
            if not Path(own["structure"]).is_file():
                print(f"no structure file {own['structure']}", file=sys.stderr)
                return 2
            own["structure"] = str(Path(own["structure"]).resolve())  # the notebook runs in another folder
        own.setdefault("ion", EXAMPLES.get(own["structure"], (None, "Li"))[1])
    if args.study == "all":
        run_all(args.mode, args.out, args.potential, args.seed, jobs=args.jobs)
    else:
        run_study(args.study, args.mode, args.out, args.potential, args.seed, parameters=own)
    return 0


if __name__ == "__main__":
    sys.exit(main())
