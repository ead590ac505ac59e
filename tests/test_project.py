"""The project as a new user meets it: environments agree, the README's commands, the CLI, notebook 00."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch-cpu": "torch"}


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["test"] + project["optional-dependencies"]["bench"]
    return dict(d.split("==") for d in deps)


def conda_pins(path: Path) -> dict[str, str]:
    pins = {}
    for entry in yaml.safe_load(path.read_text())["dependencies"]:
        for spec in entry["pip"] if isinstance(entry, dict) else [entry]:
            name, _, version = re.split(r"(==|=)", spec, maxsplit=1) if "=" in spec else (spec, "", "")
            if name not in ("python", "pip"):
                pins[CONDA_NAMES.get(name, name)] = version
    return pins


def test_conda_environment_pins_the_same_packages_as_pyproject():
    assert conda_pins(ROOT / "environment.yml") == pyproject_pins()


def binder_requirements() -> list[str]:
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith(("#", "-"))]


def test_binder_installs_exactly_the_runtime_pins_with_pip():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert binder_requirements() == project["dependencies"]
    assert not (ROOT / "binder" / "environment.yml").exists()  # repo2docker would prefer it to the pip files
    python = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(10|11|12)", python), python  # within requires-python


@pytest.mark.slow
def test_the_binder_requirements_resolve_in_a_fresh_environment(tmp_path):
    """pip resolves Binder's pins in a new virtual environment (a dry run: what Binder's build would install,
    without downloading it all again). PyTorch's own index, where Binder gets torch's CPU build, is out of reach
    here, so the pins go to this machine's package index alone."""
    import venv

    venv.create(tmp_path / "env", with_pip=True)
    (tmp_path / "pins.txt").write_text("\n".join(binder_requirements()) + "\n")
    pip = [str(tmp_path / "env" / "bin" / "python"), "-m", "pip"]
    done = subprocess.run([*pip, "install", "--dry-run", "--quiet", "-r", str(tmp_path / "pins.txt")],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.binder
def test_the_binder_environment_builds_with_pip_and_runs_postbuilds_offline_parts(tmp_path):
    """Binder's build, as repo2docker runs it, in a fresh virtual environment: pip installs ``requirements.txt``, then
    ``postBuild``'s offline steps install the toolkit and run a study in quick mode into an empty store. The step
    that fetches MACE-MP-0 needs the model host and is left out; PyTorch's CPU index is out of reach here, so torch
    comes from this machine's package index. Minutes and about 2 GB: ``make test-binder`` runs it."""
    import venv

    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    (tmp_path / "pins.txt").write_text("\n".join(binder_requirements()) + "\n")
    steps = [[python, "-m", "pip", "install", "--quiet", "-r", str(tmp_path / "pins.txt")]]
    post = [line for line in (ROOT / "binder" / "postBuild").read_text().splitlines()
            if line.startswith("python -m") and "toolkit fetch" not in line]
    assert any("pip install --no-deps -e ." in line for line in post) and any("toolkit run all" in line for line in post)
    for line in post:
        words = line.split()
        if words[3:5] == ["run", "all"]:  # one study is enough to show the image runs them; all take minutes each
            words = [*words[:4], "getting-started", "--mode", "quick", "--out", str(tmp_path / "out")]
        steps.append([python, *words[1:]])
    env = {**os.environ, "TOOLKIT_OFFLINE": "1", "TOOLKIT_STORE": str(tmp_path / "store"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR",
                                                                                       str(Path.home() / ".cache" / "pip"))}
    env.pop("VIRTUAL_ENV", None)
    for step in steps:
        done = subprocess.run(step, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, f"{' '.join(step)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert (tmp_path / "out" / "summary.json").is_file()  # a single study writes straight into --out


def test_binder_postbuild_is_executable_predownloads_mace_mp_and_fills_the_store():
    post = ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK)
    text = post.read_text()
    assert "pip install --no-deps -e ." in text
    assert re.search(r"python -m toolkit fetch .*mace-mp-0-medium", text)
    assert re.search(r"python -m toolkit run all --mode quick", text)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make run" in readme
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


def committed_text(path: Path) -> str:
    """What git would commit of ``path`` (its staged version, cleaned by the repository's filters), or the file
    itself outside a git checkout."""
    relative = path.relative_to(ROOT).as_posix()
    shown = subprocess.run(["git", "show", f":{relative}"], cwd=ROOT, capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else path.read_text()


def test_notebooks_are_stored_without_outputs_and_have_parameters():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = committed_text(path)
        # read as JSON: nbformat.reads fills in missing ids, and then warns on every run of the notebook
        assert all("id" in c for c in json.loads(text)["cells"]), f"{path.name} has cells without an id"
        nb = nbformat.reads(text, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"
        params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and "mode" in params[0].source and "potential" in params[0].source, path.name


@pytest.mark.skipif(subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode != 0,
                    reason="not a git checkout")
def test_running_the_lab_copy_of_a_notebook_leaves_git_status_clean(tmp_path):
    """`make lab` opens working copies in work/: a notebook run and saved there (as Run All in JupyterLab
    does) changes nothing git tracks, and a copy already there is kept."""
    import shutil

    from nbclient import NotebookClient

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    for name in ("Makefile", ".gitignore"):  # this checkout's, committed or not
        shutil.copy(ROOT / name, clone / name)
    subprocess.run(["git", "commit", "-qam", "this checkout's Makefile", "--author", "t <t@t>"], cwd=clone,
                   env={**os.environ, "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
    subprocess.run(["make", "-s", "work"], cwd=clone, check=True, capture_output=True)
    path = clone / "work" / "00_getting_started.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells = nb.cells[:3]  # parameters and the first code cell: outputs, counts and kernel details
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    assert nb.cells[2].outputs and nb.metadata.language_info.get("version")
    nbformat.write(nb, path)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True,
                            check=True).stdout
    assert status == "", status
    subprocess.run(["make", "-s", "work"], cwd=clone, check=True, capture_output=True)
    assert nbformat.read(path, as_version=4).cells[2].outputs  # the user's run is kept


def test_info_works_offline_and_names_what_auto_picks():
    out = subprocess.run([sys.executable, "-m", "toolkit", "info"], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert "auto picks: chgnet-0.3.0" in out
    assert "offline mode (TOOLKIT_OFFLINE): on" in out
    assert "mace-torch" in out
    # each student's line says what its speed-up measures, and which parts of quick mode use it
    assert re.search(r"student:liga-alloy: .*one force call on \w+ \(\d+ atoms, through ASE\) is [\d.]+x faster", out)
    assert re.search(r"^  quick mode, transport: uses it", out, re.M)
    # the same decision as study_potential: the DFT-anchored proton student serves, being closer to DFT
    assert re.search(r"^student:proton-phonon: .*\n  quick mode, whole notebook: uses it .*closer to DFT", out, re.M)


def test_getting_started_notebook_runs_headless(tmp_path, shared_store):
    from toolkit.runner import run_study

    summary = json.loads(run_study("getting-started", "quick", tmp_path).read_text())
    assert abs(summary["lattice_A"] - 4.116) / 4.116 < 0.03
    assert summary["potential"] == "chgnet-0.3.0"
    prov = summary["provenance"]
    assert len(prov["potential"]["sha256"]) == 64 and prov["versions"]["phonopy"] != "not installed"
    assert prov["wall_time_s"] > 0
    for name in ("00_getting_started.ipynb", "00_getting_started.html", "energy_volume.png"):
        assert (tmp_path / name).is_file()


def test_a_cell_past_its_time_limit_starts_the_notebook_again_once(tmp_path, capsys):
    from toolkit.runner import execute

    source = tmp_path / "hangs.ipynb"
    parameters = nbformat.v4.new_code_cell("log = ''\nslow_runs = 0")
    parameters.metadata["tags"] = ["parameters"]
    cell = ("import time\nfrom pathlib import Path\nruns = Path(log).read_text() if Path(log).exists() else ''\n"
            "Path(log).write_text(runs + 'x')\nif len(runs) < slow_runs:\n    time.sleep(120)")
    kernel = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(cell)], metadata=kernel),
                   source)
    log = tmp_path / "runs.log"

    execute(source, tmp_path / "out.ipynb", {"log": str(log), "slow_runs": 1}, cell_timeout_s=5)
    assert log.read_text() == "xx" and "starting attempt 2 of 2" in capsys.readouterr().out
    log.unlink()
    with pytest.raises(RuntimeError, match="ran past 5 s in each of 2 attempts"):
        execute(source, tmp_path / "out.ipynb", {"log": str(log), "slow_runs": 2}, cell_timeout_s=5)
    assert log.read_text() == "xx"


def test_a_headless_run_reports_progress_and_counts_every_attempt(tmp_path, capfd):
    """A stalled cell: the run prints each section and progress bar as it goes, starts again once, and its
    summary's wall time counts both attempts; the summary follows the umask; the kernel talks over IPC."""
    from toolkit.runner import run_notebook

    source = tmp_path / "stalls.ipynb"
    parameters = nbformat.v4.new_code_cell("out_dir = ''\nlog = ''\nslow_runs = 0")
    parameters.metadata["tags"] = ["parameters"]
    count = ("import json, time\nfrom pathlib import Path\nfrom toolkit.progress import progress_bar\n"
             "started = time.time()\nruns = Path(log).read_text() if Path(log).exists() else ''\n"
             "Path(log).write_text(runs + 'x')\nfor i in progress_bar(range(3), desc='counting'):\n    time.sleep(0.2)")
    stall = ("if len(runs) < slow_runs:\n    time.sleep(120)\n"
             "Path(out_dir, 'summary.json').write_text(json.dumps({'provenance': {'wall_time_s': time.time() - started}}))")
    cells = [parameters, nbformat.v4.new_markdown_cell("## 1. Counting"), nbformat.v4.new_code_cell(count),
             nbformat.v4.new_markdown_cell("## 2. Waiting on BaSnO$_3$\nmore text"), nbformat.v4.new_code_cell(stall)]
    kernel = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=kernel), source)
    old_mask = os.umask(0o022)
    try:
        summary = run_notebook(source, tmp_path / "out", {"log": str(tmp_path / "runs.log"), "slow_runs": 1},
                               cell_timeout_s=8, label="toy")
    finally:
        os.umask(old_mask)
    out, err = capfd.readouterr()
    lines = out.splitlines()
    assert [line.split("] ", 1)[1] for line in lines if "§" in line] == ["§ 1. Counting", "§ 2. Waiting on BaSnO3"] * 2
    assert any(re.search(r"toolkit: toy \[\d+:\d\d\]   counting: 100%.*3/3", line) for line in lines), out
    assert "starting attempt 2 of 2" in out and re.search(r"toy done in \d+ s \(2 attempts\)", out)
    assert "without encryption" not in out + err
    record = json.loads(summary.read_text())
    assert record["provenance"]["attempts"] == 2
    assert record["provenance"]["wall_time_s"] > 8 > record["provenance"]["kernel_wall_time_s"]
    assert summary.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "out" / "stalls.html").is_file()


def test_kernel_waits_look_again_each_slice(monkeypatch):
    import asyncio
    from queue import Empty

    from jupyter_client.channels import AsyncZMQSocketChannel

    from toolkit import runner

    class Socket:
        """A socket whose message shows only on the third look, as after a missed wake-up."""

        def __init__(self, ready_at: int | None):
            self.looks, self.ready_at = [], ready_at

        async def poll(self, timeout_ms):
            self.looks.append(timeout_ms)
            if self.ready_at is None or len(self.looks) < self.ready_at:
                await asyncio.sleep(timeout_ms / 1000)
                return 0
            return 1

    class Channel:
        def __init__(self, ready_at):
            self.socket = Socket(ready_at)

        async def _recv(self):
            return {"content": "reply"}

    monkeypatch.setattr(runner, "POLL_SLICE_S", 0.05)
    late = Channel(ready_at=3)
    assert asyncio.run(runner.get_msg_in_slices(late)) == {"content": "reply"} and late.socket.looks == [50, 50, 50]
    never = Channel(ready_at=None)
    with pytest.raises(Empty):
        asyncio.run(runner.get_msg_in_slices(never, timeout=0.12))
    assert 3 <= len(never.socket.looks) <= 5 and max(never.socket.looks) == 50
    original = AsyncZMQSocketChannel.get_msg
    with runner.kernel_waits_in_slices():
        assert AsyncZMQSocketChannel.get_msg is runner.get_msg_in_slices
    assert AsyncZMQSocketChannel.get_msg is original


def test_a_summary_records_each_section_that_ran_on_another_potential(tmp_path, emt):
    from ase.calculators.lj import LennardJones

    from toolkit.calculator import from_ase_calculator
    from toolkit.provenance import write_summary

    lj = from_ase_calculator(LennardJones(sigma=2.5), "lj")
    record = json.loads(write_summary(tmp_path, {"x": 1}, emt, {"mode": "quick"}, {"md": 0}, started=0.0,
                                      section_potentials={"transport": lj}).read_text())
    assert record["potential"] == "emt" and record["section_potentials"] == {"transport": "lj"}
    assert record["provenance"]["section_potentials"]["transport"]["sha256"] == lj.info.sha256 != emt.info.sha256
    assert "section_potentials" not in json.loads(write_summary(tmp_path, {}, emt, {}, {}, 0.0).read_text())


def test_jupyterlab_has_the_widget_extensions_the_python_side_asks_for():
    listing = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True,
                             timeout=120)
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    assert re.search(r"@jupyter-widgets/jupyterlab-manager v\S+ enabled OK", text), text
    found = re.search(r"nglview-js-widgets v(\S+) enabled OK", text)
    assert found, text
    from nglview._frontend import __frontend_version__

    # nglview 4.0.1 asked for frontend 4.0 while shipping 3.1.5: every viewer stayed blank
    assert found.group(1).startswith(__frontend_version__), (found.group(1), __frontend_version__)


def test_markdown_formulas_become_mathml_and_code_stays_as_written():
    from toolkit.offline_html import latex_to_mathml

    html = latex_to_mathml("BaSnO$_3$ and $$E_a = 0.4$$ but `price $5 and $6` and \\$ stays")
    assert html.count("<math") == 2 and 'display="block"' in html and "<msub>" in html
    assert "`price $5 and $6`" in html and "\\$ stays" in html
    assert latex_to_mathml("$\\left( x$") == "$\\left( x$"  # unreadable LaTeX is left as written


def test_every_subpackage_of_the_toolkit_is_listed_for_installation():
    """A package missing from pyproject's list installs everywhere but from a wheel (Binder, pip install .)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "toolkit").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
