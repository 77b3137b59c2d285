"""The helpers `keras_zfnet.analysis`'s entry points share (not public API).

`analysis/` holds the public entry points (`top_activations`, `occlusion`,
`browse`, `diagnosis`, `invariance`, `correspondence`, `features`,
`transfer`, `layer_analysis`) and their result classes; what they share
lives here:

- `scan`: the one streaming scan engine (batching, padding, compiled step,
  XLA fallback, progress, checkpoint hook);
- `data_stream`: arrays, `PyDataset`, `tf.data` and torch `DataLoader`
  inputs, batch by batch;
- `checkpoints`, `result_files`: safe `.npz` files and lossless results;
- `incremental`: occlusion's forward passes on changed windows;
- `browse_scan`, `browse_data`: the unit browser's scan and arrays;
- `filter_measures`, `metrics`, `transforms`: measures and image
  transformations;
- `linear_probe`, `layer_splits`, `scratch`: the transfer tables' probes,
  splits and from-scratch baseline.
"""
