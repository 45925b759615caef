"""Plotting. The only package of rnnlab that imports matplotlib.

Every public function is ``plot_*(data, ax=None, ...) -> Axes`` (or returns a Figure for
multi-panel plots) and takes measured data, never a model.
"""
