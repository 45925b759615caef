"""Training loops, checkpoints and the per-epoch records they emit.

- :mod:`rnnlab.train.torch_loop`: :func:`~rnnlab.train.torch_loop.fit` for the PyTorch models
  (clipping, non-finite handling, per-epoch records, resumable checkpoints), built from
  ``train_step``, ``train_epoch`` and ``epoch_record``.
- :mod:`rnnlab.train.checkpoints`: safetensors/JSON checkpoints, never pickle.
- :mod:`rnnlab.train.classify`: :func:`~rnnlab.train.classify.train_epochs`, the plain
  minibatch loop of the exercises' small classifiers.
- :mod:`rnnlab.train.scratch_loop`: training with the NumPy engine.
"""
