"""The paper's networks in PyTorch; torch is imported nowhere outside this package."""
