"""The paper's networks in PyTorch; torch is imported nowhere outside this package.

- `config`      dataclass configs of a run (torch-free; the CLI's options come from them) and
                `configure`, the resume rule `train` follows for the CLI and Python callers
- `data`        streaming IterableDatasets over the shards (handwriting lines, text chunks)
- `mixture`     the mixture density output: eq 26 loss, SSE, biased sampling
- `lstm`        LSTM layers with skip connections and the paper's derivative clipping (the
                stepped oracle)
- `fused`       the same layer and the synthesis window with a hand-written backward through
                time (the default path)
- `noise`       adaptive and fixed weight noise (Graves 2011)
- `prediction`  handwriting prediction network (section 4)
- `synthesis`   handwriting synthesis network with the soft window (section 5)
- `text`        character-level network (section 3)
- `optim`       Graves' RMSProp (eqs 38-41), Adam and SGD with momentum
- `tasks`       what differs between the three networks, behind one `Objective`
- `train`       the trainer (one state_dict: exact resume)
- `distributed` DDP under torchrun; `metrics` the CSV / TensorBoard log
- `evaluate`    losses in the paper's units, static and dynamic evaluation
- `sample`      sampling and drawing (SVG/PNG, window heatmaps)
- `cli`         the `train`, `eval` and `sample` commands (torch imported inside them only)

This file imports nothing, so `graves_data.models.cli` loads without torch.
"""
