"""Distilled students: small, fast MACE models trained on a teacher's labels of one study's configurations.

A foundation potential (MACE-MP-0, or CHGNet offline) is slow on 2 CPU cores. A student
is a small MACE model, trained with mace-torch's own training script on configurations
the study itself visits — MD at several temperatures, strained and rattled cells, phonon
displacements, NEB paths, defects — labelled by the teacher. It is only trusted where
its model card shows it agrees with the teacher: held-out energy and force errors, and
the study's key properties computed with both side by side.

The workflow (``python -m toolkit distill <study> --teacher NAME``):

1. :func:`~toolkit.students.samplers.sample` — the study's configurations, from its own builders and workflows;
   training and held-out test sets come from independent runs (different seeds), so
   correlated MD frames never sit on both sides of the split.
2. :func:`~toolkit.students.labels.label` — teacher energies, forces and stresses (through the results store).
3. :func:`~toolkit.students.training.train` — ``mace.cli.run_train`` on the labels (resumable: it restarts from its
   latest checkpoint).
4. :func:`~toolkit.students.labels.errors` and :func:`~toolkit.students.fidelity.compare_properties` — the
   model card. :func:`~toolkit.students.distill.recompare` (``--recompare``) recomputes a shipped card's
   properties when the comparison changes, and :func:`~toolkit.students.distill.retime` (``--retime``) its
   speed when either model's calls do.

Each student ships as ``toolkit/students/<study>.model`` beside ``<study>.json`` (its card)
and loads with ``load_potential("student:<study>")``.

Modules: :mod:`~toolkit.students.sampling` (generic configurations), :mod:`~toolkit.students.samplers` (each
study's), :mod:`~toolkit.students.labels` (teacher labels, errors, DFT anchors), :mod:`~toolkit.students.training`
(mace-torch), :mod:`~toolkit.students.fidelity` (properties beside the teacher's), :mod:`~toolkit.students.cards`
(the card as Markdown) and :mod:`~toolkit.students.distill` (the workflow).
"""
