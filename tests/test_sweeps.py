"""Sweeps on a real Dask LocalCluster: a lost worker costs nothing, a rerun recomputes nothing."""

import json
import os
import subprocess
import shutil
import sys
import time

import numpy as np
import pytest

from toolkit import sweeps
from toolkit.store import ResultsStore

#: Calls of :func:`slow_square` are logged here (one line per call, from any worker process).
CALL_LOG_ENV = "TOOLKIT_TEST_CALL_LOG"


def slow_square(n: int, pause_s: float) -> dict:
    """A pure task slow enough that a sweep is still running when a worker is killed."""
    time.sleep(pause_s)
    with open(os.environ[CALL_LOG_ENV], "a") as log:
        log.write(f"{n}\n")
    return {"n": n, "square": n * n}


@pytest.fixture
def client(monkeypatch, tmp_path):
    monkeypatch.setenv(CALL_LOG_ENV, str(tmp_path / "calls.log"))
    monkeypatch.syspath_prepend(os.path.dirname(__file__))  # workers unpickle slow_square from this module
    client = sweeps.connect("local", n_workers=2, dashboard_address=None)
    yield client
    client.close()
    client.cluster.close()


def calls(tmp_path) -> list[int]:
    path = tmp_path / "calls.log"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_grids_expand_to_every_combination():
    assert sweeps.expand_grid({"x": [0.5, 1.0], "seed": [0, 1], "n_ta": 2}) == [
        {"x": 0.5, "seed": 0, "n_ta": 2}, {"x": 0.5, "seed": 1, "n_ta": 2},
        {"x": 1.0, "seed": 0, "n_ta": 2}, {"x": 1.0, "seed": 1, "n_ta": 2}]
    assert sweeps.expand_grid([{"x": 1}, {"x": 2}]) == [{"x": 1}, {"x": 2}]
    assert sweeps.sweep_key("t", {"a": 1, "b": 2}) == sweeps.sweep_key("t", {"b": 2, "a": 1})


def test_sweep_survives_a_killed_worker_and_a_rerun_recomputes_nothing(client, tmp_path):
    store = ResultsStore(tmp_path / "store")
    grid = {"n": list(range(8)), "pause_s": 1.0}
    worker = next(iter(client.scheduler_info()["workers"]))

    def kill_soon():
        time.sleep(1.5)  # a few tasks are done, others are running on both workers
        try:
            client.run(os._exit, 1, workers=[worker])
        except Exception:  # noqa: BLE001 - the worker dies before it can answer
            pass

    import threading

    killer = threading.Thread(target=kill_soon)
    killer.start()
    results = sweeps.run_sweep(slow_square, grid, client, store=store, progress=False)
    killer.join()
    assert [r["square"] for r in results] == [n * n for n in range(8)]
    assert worker not in client.scheduler_info()["workers"]  # it really died (its nanny started a new one)
    assert len(store) == 8  # every point stored once
    done = calls(tmp_path)
    assert set(done) == set(range(8))

    again = sweeps.run_sweep(slow_square, grid, client, store=store, progress=False)
    assert again == results and calls(tmp_path) == done and len(store) == 8  # nothing recomputed

    bigger = sweeps.run_sweep(slow_square, {"n": list(range(10)), "pause_s": 1.0}, client, store=store,
                              progress=False)
    assert [r["n"] for r in bigger] == list(range(10)) and sorted(calls(tmp_path)[len(done):]) == [8, 9]


def test_unknown_schedulers_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="local, slurm, pbs, gateway"):
        sweeps.connect("nowhere")
    with pytest.raises(ValueError, match="'slurm' or 'pbs'"):
        sweeps.jobqueue_cluster("lsf")


def test_slurm_configuration_becomes_a_job_script():
    cluster = sweeps.jobqueue_cluster("slurm", queue="short", account="ionics", cores=8, processes=4, memory="16GB",
                                      walltime="02:00:00", scheduler_options={"dashboard_address": None})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p short", "#SBATCH -A ionics", "#SBATCH -n 1", "#SBATCH --cpus-per-task=8",
                 "#SBATCH -t 02:00:00", "--nworkers 4"):
        assert line in script, line


@pytest.mark.slow
def test_study_sweep_runs_headless_from_the_command_line(tmp_path):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"x": [1.0], "n_ta": 2, "seed": [0], "temperatures_K": [[900]], "md_ps": 0.2,
                                "melt_ps": 0.02, "quench_rate_K_per_ps": 60000.0, "anneal_ps": 0.02,
                                "potential": "chgnet"}))
    out = tmp_path / "sweep.json"
    command = [sys.executable, "-m", "toolkit", "sweep", "oxyhalide-volcano", "--grid", str(grid), "--workers", "1",
               "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "dashboard" in first.stdout
    record = json.loads(out.read_text())
    (row,) = record["rows"]
    assert record["grid"]["x"] == [1.0] and record["provenance"]["versions"]["ase"]
    assert row["parameters"]["x"] == 1.0 and row["result"]["n_atoms"] == 18 and row["result"]["n_Li"] == 4
    assert set(row["result"]["D_Li_cm2_s"]) == {"900"}
    started = time.time()
    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0 and json.loads(out.read_text())["rows"] == [row]
    assert time.time() - started < 60  # read back from the store, not recomputed


def test_volcano_recovers_a_known_activation_energy_and_peak():
    from ase.units import kB

    from toolkit.studies.oxyhalide_volcano import peak, volcano

    rows = []
    for x, ea in ((0.5, 0.40), (1.5, 0.25), (2.5, 0.35)):
        for seed in (0, 1):
            d = {f"{t:g}": [1e-3 * np.exp(-ea / (kB * t)) * (1 + 0.02 * seed), 1e-3 * np.exp(-ea / (kB * t)) * 0.05]
                 for t in (500.0, 600.0, 700.0, 800.0)}
            rows.append({"parameters": {"x": x, "seed": seed},
                         "result": {"D_Li_cm2_s": d, "n_Li": 8, "volume_A3": 900.0, "density_g_cm3": 2.9}})
    result = volcano(rows)
    assert [v["n_glasses"] for v in result.values()] == [2, 2, 2]
    assert result[1.5]["fit"]["Ea_eV"][0] == pytest.approx(0.25, abs=0.01)
    assert peak(result) == 1.5
    assert all(v["fit_problem"] is None for v in result.values())
    rows[0]["result"]["D_Li_cm2_s"]["500"][0] = -1e-9  # a glass whose Li did not move: the fit says why it is missing
    stuck = volcano(rows[:1])[0.5]
    assert stuck["fit"] is None and "positive D" in stuck["fit_problem"]


def test_a_folder_of_cifs_is_screened_on_dask_into_a_ranked_table_with_the_bad_files_named(tmp_path):
    from toolkit.studies.your_material import EXAMPLE_DIR

    folder = tmp_path / "cifs"
    folder.mkdir()
    shutil.copy(EXAMPLE_DIR / "Li3N.cif", folder)
    shutil.copy(EXAMPLE_DIR / "Na3PS4.cif", folder)  # no Li
    (folder / "broken.cif").write_text("data_broken\n_cell_length_a oops\n")
    changes = {"relax_fmax_eV_A": 0.05, "phonon_displacements_A": [0.03], "md_ps": 0.04, "md_runs": 1,
               "md_sample_every": 2, "md_blocks": 2}
    out = tmp_path / "screen.json"
    command = [sys.executable, "-m", "toolkit", "screen", str(folder), "--ion", "Li", "--potential", "chgnet",
               "--workers", "1", "--changes", json.dumps(changes), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [row["file"] for row in rows] == ["Li3N.cif", "Na3PS4.cif", "broken.cif"]  # ranked; refused files last
    li3n, na3ps4, broken = rows
    assert li3n["formula"] == "Li3N" and set(li3n["D_cm2_s"]) == {"800", "1000"} and li3n["potential"] == "chgnet-0.3.0"
    assert "holds no Li" in na3ps4["error"] and "could not read broken.cif" in broken["error"]
    table = done.stdout
    assert "| 1 | Li3N.cif | Li3N | Li |" in table and "refused: Na6P2S8 holds no Li" in table


def test_ranked_puts_stable_conductors_first_by_sigma():
    from toolkit.studies.your_material import ranked, ranked_markdown

    def row(name, stable, sigma):
        return {"file": name, "formula": name, "ion": "Li", "phonons": {"stable": stable, "displacement_check": True},
                "sigma_S_cm": [sigma, sigma / 2] if sigma else None, "Ea_eV": [0.3, 0.05] if sigma else None,
                "sigma_temperature_K": 300.0, "fit_problem": None if sigma else "D does not rise with T"}

    rows = [row("a", True, 1e-4), {"file": "bad", "error": "no Li"}, row("b", False, 1e-2), row("c", True, None),
            row("d", True, 1e-3)]
    assert [r["file"] for r in ranked(rows)] == ["d", "a", "c", "b", "bad"]
    table = ranked_markdown(rows)
    assert "| 1 | d | d | Li | yes | 1.00e-03 ± 5.0e-04 at 300 K | 0.30 ± 0.05 |" in table
    assert "no fit: D does not rise with T" in table and "refused: no Li" in table
