"""Each study's workflow as named steps: small functions returning frozen result objects, called by the study's
notebook, its student card, its sweeps and its tests alike, so that a step exists once."""

from pathlib import Path

#: ``<study>.json``: the JSON Schema of each study's ``summary.json``, which its ``to_summary()`` writes.
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
