"""The numbers that set the generation test's verdicts, importable without torch (captions quote
them on every page view, before a cold server has loaded torch)."""

GENERATION_SAMPLES = 1000  # draws per source
CONFIDENT = 0.9  # a draw counts when the judge's top class probability reaches this
