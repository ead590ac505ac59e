"""The batched MD engine against ASE: same forces, same NVE steps, same thermostat statistics."""

import numpy as np
import pytest
import torch
from ase import units
from ase.build import make_supercell
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet

from toolkit.md import MDEngine, run_replicas
from toolkit.md.model_call import StaticModelCall
from toolkit.md.neighbours import image_reach, periodic_pairs
from toolkit.perovskite import basno3
from toolkit.potentials import load_potential
from toolkit.store import ResultsStore
from toolkit.validation import MDExplosionError, NonFiniteForcesError


@pytest.fixture(scope="module")
def tiny(tiny_mace_path):
    return load_potential(str(tiny_mace_path), device="cpu", dtype="float64", trust=True)


def cell(seed=0, temperature_K=300.0):
    atoms = make_supercell(basno3(4.1), np.eye(3) * 2)
    rng = np.random.default_rng(seed)
    atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    return atoms


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_forces_match_the_ase_calculator_for_a_batch_with_atoms_outside_the_cell(tiny, device):
    """The neighbour search (on the engine's device) finds every pair that ASE's calculator does, with a
    cutoff plus skin (4.7 Å) longer than half the 8.2 Å cell."""
    a, b = cell(0), cell(1)
    b.positions[:5] += 2 * b.cell[0] - b.cell[2]  # unwrapped coordinates, as during a long run
    engine = MDEngine(tiny, [a, b], 300.0, thermostat="nve", dtype="float64", skin_A=0.7, device=device)
    for k, atoms in enumerate((a, b)):
        reference = atoms.copy()
        reference.calc = tiny
        span = slice(int(engine.offsets[k]), int(engine.offsets[k + 1]))
        assert np.allclose(engine.forces[span].cpu().numpy(), reference.get_forces(), atol=1e-8)
        assert engine.energies_eV[k].item() == pytest.approx(reference.get_potential_energy(), abs=1e-8)


def test_one_pass_over_all_pairs_finds_the_pairs_vesin_finds():
    """periodic_pairs (a GPU's search for many small cells at once) against vesin, cell by cell: unwrapped
    atoms, a triclinic one-atom cell, a cutoff longer than the cells."""
    from ase.build import bulk
    from vesin_torch import NeighborList

    for cells, cutoff in (([cell(0), cell(1)], 4.7), ([bulk("Cu", "fcc", a=3.6)] * 3, 6.0)):
        cells = [atoms.copy() for atoms in cells]
        cells[-1].positions += np.random.default_rng(0).normal(0, 6.0, cells[-1].positions.shape)
        reach = tuple(np.max([image_reach(atoms.cell, cutoff) for atoms in cells], axis=0))
        positions = torch.tensor(np.array([atoms.positions for atoms in cells]))
        cells_A = torch.tensor(np.array([atoms.cell for atoms in cells]))
        system, i, j, shifts, count = periodic_pairs(positions, cells_A, cutoff, reach)
        assert count == len(system)
        padded = periodic_pairs(positions, cells_A, cutoff, reach, capacity=len(system) + 7)
        assert all(torch.equal(a, b[:len(system)]) and len(b) == len(system) + 7 for a, b in
                   zip((system, i, j, shifts), padded))
        for k, atoms in enumerate(cells):
            vi, vj, vs = NeighborList(cutoff=cutoff, full_list=True).compute(
                positions[k], torch.tensor(np.array(atoms.cell)), True, "ijS")
            mine = system == k
            assert set(zip(i[mine].tolist(), j[mine].tolist(), map(tuple, shifts[mine].long().tolist()))) == \
                set(zip(vi.tolist(), vj.tolist(), map(tuple, vs.long().tolist())))
            assert mine.sum() > 10


def test_replicas_searched_together_keep_the_same_lists(tiny, monkeypatch):
    """The grouped search a GPU uses, run on the CPU, gives each replica of a batch its own list again."""
    import toolkit.md.neighbours

    monkeypatch.setattr(toolkit.md.neighbours, "BRUTE_FORCE_PASS", 100_000)  # several passes for the three cells
    engine = MDEngine(tiny, [cell(0), cell(1), cell(2)], 300.0, skin_A=0.7)
    before = [tuple(map(tuple, edges.T.tolist())) for edges, _, _ in engine.replica_edges]
    shifts = [s.tolist() for _, s, _ in engine.replica_edges]
    engine._search_together = True
    engine._build_neighbours(range(3))
    for k, (edges, unit_shifts, _) in enumerate(engine.replica_edges):
        assert sorted(zip(map(tuple, edges.T.tolist()), map(tuple, unit_shifts.tolist()))) == \
            sorted(zip(before[k], map(tuple, shifts[k])))


def test_nve_follows_ase_velocity_verlet_step_by_step(tiny):
    atoms = cell(2)
    engine = MDEngine(tiny, [atoms], 300.0, thermostat="nve", timestep_fs=1.0, dtype="float64", skin_A=0.3)
    reference = atoms.copy()
    reference.calc = tiny
    dyn = VelocityVerlet(reference, timestep=1.0 * units.fs)
    for _ in range(30):  # long enough for several neighbour-list rebuilds with this small skin
        engine.step()
        dyn.run(1)
    assert engine.neighbour_builds > 1
    assert np.abs(engine.snapshot(0).positions - reference.positions).max() < 1e-7
    assert np.abs(engine.snapshot(0).get_momenta() - reference.get_momenta()).max() < 1e-6


def test_nve_conserves_energy_in_float32(tiny):
    """Stated drift: under 1 meV/atom over 1000 steps of 1 fs at 300 K."""
    atoms = cell(3)
    engine = MDEngine(tiny, [atoms], 300.0, thermostat="nve", timestep_fs=1.0)
    total = []
    for _ in range(20):
        engine.step(50)
        total.append(float(engine.energies_eV[0] + engine.kinetic_energies_eV()[0]))
    assert np.ptp(total) / len(atoms) < 1e-3


@pytest.mark.parametrize("thermostat", ["langevin", "csvr"])
def test_thermostats_give_the_canonical_temperature_distribution_like_ase_langevin(tiny, thermostat):
    """Mean and spread of the kinetic temperature match ASE's Langevin and the canonical values
    (<T> = T0, σ_T / T0 = sqrt(2 / N_f))."""
    target = 600.0
    n_replicas, n_samples = 6, 60
    engine = MDEngine(tiny, [cell(10 + k, target) for k in range(n_replicas)], target, thermostat=thermostat,
                      timestep_fs=2.0, friction_per_fs=0.05, tau_fs=20.0, seeds=7)
    engine.step(100)  # equilibrate
    temperatures = []
    for _ in range(n_samples):
        engine.step(5)
        temperatures.append(engine.current_temperatures_K())
    temperatures = np.concatenate(temperatures)

    reference = cell(20, target)
    reference.calc = tiny
    dyn = Langevin(reference, timestep=2.0 * units.fs, temperature_K=target, friction=0.05 / units.fs,
                   fixcm=False, rng=np.random.default_rng(3))
    dyn.run(100)
    ase_temperatures = []
    n_f = 3 * len(reference) - 3
    for _ in range(n_samples):
        dyn.run(5)
        ase_temperatures.append(2 * reference.get_kinetic_energy() / (n_f * units.kB))

    canonical_spread = target * np.sqrt(2 / n_f)
    assert np.mean(temperatures) == pytest.approx(target, rel=0.05)
    assert np.std(temperatures) == pytest.approx(canonical_spread, rel=0.25)
    assert np.mean(temperatures) == pytest.approx(np.mean(ase_temperatures), rel=0.1)
    assert np.std(temperatures) == pytest.approx(np.std(ase_temperatures), rel=0.5)


def test_a_replica_moves_the_same_alone_or_in_a_batch(tiny):
    atoms = cell(4)
    alone = MDEngine(tiny, [atoms], 500.0, seeds=[11])
    batch = MDEngine(tiny, [cell(5), atoms, cell(6)], 500.0, seeds=[3, 11, 4])
    alone.step(40)
    batch.step(40)
    assert np.abs(alone.snapshot(0).positions - batch.snapshot(1).positions).max() < 1e-4


def test_a_batch_rebuilds_each_replica_list_no_more_often_than_alone(tiny):
    """A replica's list is rebuilt when its own atoms have moved, not whenever any replica's have."""
    hot, cold = cell(7, temperature_K=1500.0), cell(8, temperature_K=50.0)
    builds = []
    for atoms, temperature, seed in ((hot, 1500.0, 1), (cold, 50.0, 2)):
        alone = MDEngine(tiny, [atoms], temperature, thermostat="nve", seeds=[seed], skin_A=0.4)
        alone.step(30)
        builds.append(alone.neighbour_builds)
    batch = MDEngine(tiny, [hot, cold], [1500.0, 50.0], thermostat="nve", seeds=[1, 2], skin_A=0.4)
    batch.step(30)
    assert builds[0] > builds[1] and batch.neighbour_builds == sum(builds)


def test_the_padded_static_call_gives_the_same_steps_as_the_trimmed_one(tiny):
    """Padding edges (far past the cutoff) and the skin's edges add exactly nothing: same forces, same NVE
    steps through several rebuilds, on the CPU where the padded call runs eagerly."""
    atoms = cell(2)
    trimmed = MDEngine(tiny, [atoms], 300.0, thermostat="nve", dtype="float64", skin_A=0.3)
    padded = MDEngine(tiny, [atoms], 300.0, thermostat="nve", dtype="float64", skin_A=0.3, static_graph=True)
    assert padded._static_call is not None and padded._static_call.cuda_graph is None
    assert padded._static_call.capacity > padded.all_edges.shape[1]
    for _ in range(30):
        trimmed.step()
        padded.step()
    assert padded.neighbour_builds > 1
    assert np.abs(padded.forces.numpy() - trimmed.forces.numpy()).max() < 1e-10
    assert np.abs(padded.snapshot(0).positions - trimmed.snapshot(0).positions).max() < 1e-10


def test_the_compiled_model_call_gives_the_same_steps_as_the_eager_one(tiny):
    """torch.compile's model call (inductor): the same forces and NVE steps as the eager call, for a batch
    of two cells, through neighbour-list rebuilds that change the number of edges."""
    args = dict(thermostat="nve", dtype="float64", skin_A=0.3)
    eager = MDEngine(tiny, [cell(2), cell(3)], 300.0, **args)
    compiled = MDEngine(tiny, [cell(2), cell(3)], 300.0, compile_model=True, **args)
    assert np.abs(compiled.forces.numpy() - eager.forces.numpy()).max() < 1e-10
    edges = {compiled.all_edges.shape[1]}
    for _ in range(30):
        eager.step()
        compiled.step()
        edges.add(compiled.all_edges.shape[1])
    assert compiled.neighbour_builds > 2 and len(edges) > 1
    assert compiled._compiled is not None  # still compiled: no fallback to the eager call
    assert np.abs(compiled.forces.numpy() - eager.forces.numpy()).max() < 1e-8
    assert np.abs(compiled.snapshot(1).positions - eager.snapshot(1).positions).max() < 1e-8
    with pytest.raises(ValueError, match="compile_model and static_graph"):
        MDEngine(tiny, [cell(2)], 300.0, compile_model=True, static_graph=True)


def test_a_model_call_that_fails_to_compile_runs_eagerly_with_a_warning(tiny, monkeypatch):
    def no_compiler(model, key):
        def call(inputs):
            raise RuntimeError("no C++ compiler")
        return call

    monkeypatch.setattr("toolkit.md.engine.compiled_energy", no_compiler)
    eager = MDEngine(tiny, [cell(2)], 300.0, thermostat="nve", dtype="float64")
    with pytest.warns(UserWarning, match="compiled model call failed.*no C\\+\\+ compiler"):
        fallen_back = MDEngine(tiny, [cell(2)], 300.0, thermostat="nve", dtype="float64", compile_model=True)
    fallen_back.step(3)
    eager.step(3)
    assert np.abs(fallen_back.snapshot(0).positions - eager.snapshot(0).positions).max() < 1e-12


def test_one_padded_pass_gives_the_static_call_the_same_edges_and_steps(tiny):
    """A GPU's rebuild of replicas of one shape (one fixed-size pass written into the static call's padded
    edges), run on the CPU: the edges that the search replica by replica gives, the same NVE steps through
    several rebuilds, and a call with more room once the pairs outgrow the capacity."""
    args = dict(thermostat="nve", dtype="float64", skin_A=0.3, static_graph=True, temperatures_K=600.0, seeds=3)
    usual = MDEngine(tiny, [cell(2), cell(3)], **args)
    padded = MDEngine(tiny, [cell(2), cell(3)], **args)
    padded._search_together = True
    for _ in range(30):
        usual.step()
        padded.step()
    assert padded.neighbour_builds > 2 * 2 and padded.neighbour_builds % 2 == 0  # both replicas at each rebuild
    for engine in (usual, padded):
        engine._build_neighbours(range(2))

    def edges(engine, count):  # (sender, receiver, shift in Å to 1e-6 Å) of the call's first ``count`` edges
        inputs = engine._static_call.inputs
        return set(zip(*inputs["edge_index"][:, :count].tolist(),
                       map(tuple, inputs["shifts"][:count].mul(1e6).round().long().tolist())))

    assert int(padded.pair_count) == usual.all_edges.shape[1]
    assert edges(padded, int(padded.pair_count)) == edges(usual, usual.all_edges.shape[1])
    assert torch.equal(padded._static_call.inputs["shifts"][int(padded.pair_count):, 0],
                       usual._static_call.inputs["shifts"][int(padded.pair_count):, 0])  # the padding
    assert np.abs(padded.snapshot(1).positions - usual.snapshot(1).positions).max() < 1e-10

    capacity = padded._static_call.capacity
    padded.positions *= 0.1  # every atom within 1 Å of a corner: far more pairs than the call has room for
    padded._build_neighbours([0])
    assert padded._static_call.capacity > capacity and int(padded.pair_count) > capacity
    n_edges = padded.all_edges.shape[1]
    assert n_edges > capacity and torch.equal(padded._static_call.inputs["edge_index"][:, :n_edges], padded.all_edges)


def test_a_neighbour_list_over_the_static_capacity_is_refused(tiny):
    engine = MDEngine(tiny, [cell(0)], 300.0, static_graph=True)
    call = engine._static_call
    too_many = call.capacity + 1
    assert not call.load_edges(torch.zeros((2, too_many), dtype=torch.long), torch.zeros((too_many, 3)))
    assert call.load_edges(engine.all_edges, engine.all_shifts)


@CUDA
@pytest.mark.parametrize("thermostat", ["nve", "langevin", "csvr"])
def test_captured_cuda_graphs_replay_the_eager_step(tiny, thermostat):
    """The model call and both halves of the integrator around it, captured and replayed, give the eager
    engine's steps (the same noise too) through several neighbour-list rebuilds."""
    atoms = cell(2)
    args = dict(thermostat=thermostat, skin_A=0.3, dtype="float64", device="cuda", temperatures_K=600.0, seeds=3)
    eager = MDEngine(tiny, [atoms, cell(3)], static_graph=False, **args)
    graphed = MDEngine(tiny, [atoms, cell(3)], **args)
    assert isinstance(graphed._static_call, StaticModelCall) and graphed._static_call.cuda_graph is not None
    for _ in range(30):
        eager.step()
        graphed.step()
    assert graphed.neighbour_builds > 2
    assert all(isinstance(g, torch.cuda.CUDAGraph) for g in graphed._graphs.values())
    assert set(graphed._graphs) == {"first", "second", "search"}  # the neighbour search in one captured pass too
    assert torch.allclose(graphed.forces, eager.forces, atol=1e-6)
    assert np.abs(graphed.snapshot(0).positions - eager.snapshot(0).positions).max() < 1e-6


def test_run_replicas_checkpoints_and_resumes(tiny, tmp_path):
    store = ResultsStore(tmp_path / "store")
    replicas = [cell(7), cell(8)]
    first = run_replicas(replicas, tiny, [300.0, 600.0], 40, seeds=[1, 2], sample_every=10, store=store,
                         progress=False)
    assert [len(f) for f in first] == [5, 5]
    assert first[0][-1].info["step"] == 40
    # a kernel killed after 20 steps: cut one replica's checkpoint to 3 frames, the other to 4
    from ase.io import Trajectory, read

    paths = sorted((tmp_path / "store" / "checkpoints").glob("*.traj"))
    assert len(paths) == 2
    for path, keep in zip(paths, (3, 4)):
        frames = read(path, index=":")[:keep]
        with Trajectory(path, "w") as traj:
            for frame in frames:
                traj.write(frame)
    resumed = run_replicas(replicas, tiny, [300.0, 600.0], 40, seeds=[1, 2], sample_every=10, store=store,
                           progress=False)
    assert [len(f) for f in resumed] == [5, 5]
    for k in range(2):
        assert np.allclose(resumed[k][2].positions, first[k][2].positions)  # kept, not recomputed
        assert resumed[k][-1].info["step"] == 40
    again = run_replicas(replicas, tiny, [300.0, 600.0], 40, seeds=[1, 2], sample_every=10, store=store,
                         progress=False)
    assert np.allclose(again[1][-1].positions, resumed[1][-1].positions)  # finished: read back, not rerun


def test_runaway_temperature_names_the_replica(tiny):
    hot = cell(9, temperature_K=20000.0)
    with pytest.raises(MDExplosionError, match="replica 1") as blown:
        run_replicas([cell(1), hot], tiny, 300.0, 10, sample_every=5, progress=False)
    assert [len(f) for f in blown.value.frames] == [1, 1]  # both replicas' frames before the blow-up
    assert blown.value.replica == 1


@pytest.mark.parametrize("static_graph", [False, True])
def test_atoms_fallen_together_name_the_replica(tiny, static_graph):
    """The collapse is found in the engine's own neighbour lists (padded ones too), then named by ASE's search."""
    from ase.neighborlist import neighbor_list

    engine = MDEngine(tiny, [cell(1), cell(2)], 300.0, static_graph=static_graph)
    engine.check_replicas()
    assert engine.collapsed_replicas() == []
    # atom 0's nearest neighbour in replica 1 slides along their bond (through whichever image) to 0.2 Å from it
    atoms = engine.snapshot(1)
    i, j, vectors = neighbor_list("ijD", atoms, 3.0)
    nearest = np.argmin(np.where(i == 0, np.linalg.norm(vectors, axis=1), np.inf))
    bond = vectors[nearest]
    offset = int(engine.offsets[1])
    engine.positions[offset + j[nearest]] -= torch.tensor(bond * (1 - 0.2 / np.linalg.norm(bond)))
    assert engine.collapsed_replicas() == [1]
    pair = f"{atoms[0].symbol}0–{atoms[j[nearest]].symbol}{j[nearest]} 0.200 Å"
    with pytest.raises(MDExplosionError, match=rf"replica 1 .*collapsed.*{pair}") as blown:
        engine.check_replicas()
    assert blown.value.replica == 1


def test_a_stored_blow_up_is_replayed_not_resumed(tiny, tmp_path):
    from toolkit.store import ResultsStore

    args = dict(sample_every=5, progress=False, store=ResultsStore(tmp_path))
    with pytest.raises(MDExplosionError, match="replica 1") as first:
        run_replicas([cell(1), cell(9, temperature_K=20000.0)], tiny, 300.0, 10, **args)
    with pytest.raises(MDExplosionError) as again:
        run_replicas([cell(1), cell(9, temperature_K=20000.0)], tiny, 300.0, 10, **args)
    assert str(again.value) == str(first.value) and [len(f) for f in again.value.frames] == [1, 1]


def test_nan_forces_name_the_atoms(tiny, monkeypatch):
    engine = MDEngine(tiny, [cell(0)], 300.0)
    real = engine.model.forward

    def broken(data, **kwargs):
        out = real(data, **kwargs)
        out["forces"] = out["forces"].clone()
        out["forces"][3] = float("nan")
        return out

    monkeypatch.setattr(engine.model, "forward", broken)
    with pytest.raises(NonFiniteForcesError, match="Ba3|Sn3|O3"):
        engine.step()


def test_non_mace_potentials_are_refused_with_a_pointer(chgnet):
    with pytest.raises(TypeError, match="run_md"):
        MDEngine(chgnet, [cell(0)], 300.0)


def test_run_md_puts_mace_models_on_the_engine_and_batches_many_runs(tiny, emt, monkeypatch):
    from ase.build import bulk

    from toolkit.md import run_md, run_md_many, uses_engine

    atoms = cell(1)
    frames = run_md(atoms, tiny, 300.0, 20, sample_every=10, seed=5, progress=False)
    assert len(frames) == 3 and frames[-1].info["step"] == 20  # the engine's frames
    many = run_md_many([cell(1), cell(2)], tiny, [300.0, 600.0], 20, sample_every=10, seeds=[5, 6], progress=False)
    assert np.allclose(many[0][-1].positions, frames[-1].positions, atol=1e-4)  # batching changes nothing
    asked = []  # compile_model reaches the engine, whose compiled branch takes the forces from the energy

    def uncompiled(model, key):
        asked.append(key)
        return lambda inputs: model(inputs, training=False, compute_force=False, compute_stress=False)["energy"]

    monkeypatch.setattr("toolkit.md.engine.compiled_energy", uncompiled)
    compiled = [run_md(atoms, tiny, 300.0, 20, sample_every=10, seed=5, progress=False, compile_model=True),
                run_md_many([atoms], tiny, 300.0, 20, sample_every=10, seeds=5, progress=False, compile_model=True)[0]]
    assert len(asked) == 2
    assert all(np.allclose(run[-1].positions, frames[-1].positions, atol=1e-4) for run in compiled)
    copper = bulk("Cu", "fcc", a=3.6, cubic=True)
    assert not uses_engine(copper, emt)  # other potentials stay on ASE's integrator
    assert len(run_md_many([copper], emt, 300.0, 20, sample_every=10, progress=False)[0]) == 3
