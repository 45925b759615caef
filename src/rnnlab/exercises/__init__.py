"""The introductory exercises of the lab, as small tested functions.

One module per exercise:

- :mod:`~rnnlab.exercises.architectures`: one-to-one, one-to-many, many-to-one, many-to-many
  (aligned) and encoder-decoder, each as a tiny working PyTorch model run on dummy input;
- :mod:`~rnnlab.exercises.counting`: parameter counts of RNN / LSTM / GRU (stacked,
  bidirectional, one or two bias vectors) and multiply-adds per step;
- :mod:`~rnnlab.exercises.forward_pass`: the manual forward pass h_t = tanh(W_xh x_t + W_hh h_{t-1}
  + b), by a plain loop and by the NumPy engine;
- :mod:`~rnnlab.exercises.toy_classifier`: a many-to-one NumPy RNN trained by the engine's
  hand-written BPTT on four toy sequences;
- :mod:`~rnnlab.exercises.monotonic`: a PyTorch RNN telling increasing from decreasing sequences;
- :mod:`~rnnlab.exercises.sentiment`: a bidirectional LSTM sentiment classifier over GloVe
  vectors, with gradient x input word attribution;
- :mod:`~rnnlab.exercises.comparison`: RNN, LSTM, GRU and BiLSTM side by side (parameters,
  multiply-adds, measured time per step, gradient reaching early inputs against length).

Nothing here draws; :mod:`rnnlab.viz.exercises` plots what these functions return and
:mod:`rnnlab.experiments.exercises` puts them together into the section of the report.
"""
