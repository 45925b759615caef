"""The sentences of the lab: one module per section, each sentence a function of measured numbers.

``rnnlab.observations.<section>.observations(metrics, config) -> list[str]`` turns the numbers a
section saved in ``metrics.json`` into the sentences of its ``observations.md`` and report. Every
rule (threshold, comparison, branch) lives here, next to the other sentences of its section, and
is tested with fabricated numbers on both sides of each threshold. Nothing here trains, loads
data or draws.
"""
