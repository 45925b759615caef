"""Names of the lab's sections and the modules that implement them, in report order.

A leaf module (no imports) so that both the runner and the report can read it.
"""

SECTIONS: dict[str, str] = {
    "q1": "rnnlab.experiments.q1",
    "q2": "rnnlab.experiments.q2",
    "q3": "rnnlab.experiments.q3",
    "exercises": "rnnlab.experiments.exercises",
}
