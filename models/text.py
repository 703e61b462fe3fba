"""Character-level text network (Graves 2013, section 3).

One-hot symbols into a stack of LSTM layers with skip connections (the same stack as the
handwriting networks) and a softmax over the vocabulary. Sizes by config: the paper uses
1 x 1000 for Penn Treebank and 7 x 700 for enwik8 (Hutter prize Wikipedia).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from graves_data.models.config import TextConfig
from graves_data.models.lstm import Clip, SkipLSTM, State, clamp_grad, skip_output

TextState = list[State]


def detach_states(states: list[State]) -> list[State]:
    return [(h.detach(), c.detach()) for h, c in states]


class CharLSTM(nn.Module):
    """(B, L) symbol ids -> (B, L, V) logits of the next symbol."""

    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        if config.vocab_size < 1:
            raise ValueError("the text network needs the vocabulary size")
        self.config = config
        self.lstm = SkipLSTM(
            config.vocab_size, config.hidden, config.layers, peepholes=config.peepholes
        )
        self.head = nn.Linear(config.layers * config.hidden, config.vocab_size)

    def forward(
        self, ids: torch.Tensor, state: TextState | None = None, clip: Clip | None = None
    ) -> tuple[torch.Tensor, TextState]:
        clip = clip or Clip()
        if self.lstm.time_major(clip.lstm):
            x = F.one_hot(ids.t(), self.config.vocab_size).to(self.head.weight.dtype)
            outputs, state = self.lstm.run(x, state, None, clip.lstm)
            logits = skip_output(self.head, outputs).transpose(0, 1)
        else:
            x = F.one_hot(ids, self.config.vocab_size).to(self.head.weight.dtype)
            hidden, state = self.lstm(x, state, clip=clip.lstm)
            logits = self.head(hidden)
        clamp_grad(logits, clip.output)
        return logits, state

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross entropy per symbol, (B, L) nats."""
        return F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")
