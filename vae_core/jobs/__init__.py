"""The training engine: jobs run on a Dask cluster (embedded or external), with per-client
limits, a queue cap, time limits, stop and lost-worker handling."""
