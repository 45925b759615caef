"""rnnlab: learn, teach and inspect recurrent neural networks."""

__version__ = "0.1.0"
