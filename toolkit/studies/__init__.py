"""Each study's workflow as named steps: small functions returning frozen result objects, called by the study's
notebook, its student card, its sweeps and its tests alike, so that a step exists once."""
