"""Names of the lab's sections and the modules that implement them, in report order.

A leaf module (no imports) so that both the runner and the report can read it.
"""

SECTIONS: dict[str, str] = {
    "q1": "rnnlab.experiments.q1",
    "q2": "rnnlab.experiments.q2",
    "q3": "rnnlab.experiments.q3",
    "exercises": "rnnlab.experiments.exercises",
}

#: Each section's title, for the report (also where a section has not been run).
TITLES: dict[str, str] = {
    "q1": "Q1. RNN, LSTM and GRU from scratch: training curves, insights and gradient flow",
    "q2": "Q2. RNN, LSTM and GRU on real data: weights, stability, saturation and convergence",
    "q3": (
        "Q3. Visual question answering without training: ResNet18 image features fused with "
        "untrained RNN, LSTM and GRU question encoders"
    ),
    "exercises": "Introductory exercises: architectures, parameter counts, a manual forward pass, small classifiers",
}
