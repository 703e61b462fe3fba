"""The paper's networks in PyTorch; torch is imported nowhere outside this package.

- `config`      dataclass configs of a run (torch-free; the CLI's options come from them)
- `data`        streaming IterableDatasets over the shards (handwriting lines, text chunks)
- `mixture`     the mixture density output: eq 26 loss, SSE, biased sampling
- `lstm`        LSTM layers with skip connections and the paper's derivative clipping
- `prediction`  handwriting prediction network (section 4)
- `synthesis`   handwriting synthesis network with the soft window (section 5)
- `text`        character-level network (section 3)
- `optim`       Graves' RMSProp (eqs 38-41)
- `tasks`       what differs between the three networks, behind one interface
- `train`       the trainer (one state_dict: exact resume; DDP under torchrun)
- `evaluate`    losses in the paper's units, static and dynamic evaluation
- `sample`      sampling and drawing (SVG/PNG, window heatmaps)
- `cli`         the `train`, `eval` and `sample` commands (torch imported inside them only)
- `demo`        `make train-demo`
- `testing`     small datasets in the real format for tests and benchmarks (torch-free)

This file imports nothing, so `graves_data.models.cli` loads without torch.
"""
