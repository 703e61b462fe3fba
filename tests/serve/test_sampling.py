"""The playground's window checks and primes, on made-up window weights (no network)."""

from __future__ import annotations

import numpy as np

from graves_data.serve.sampling import (
    heatmap,
    match_scale,
    prime_from_strokes,
    window_problems,
)


def window(focus: list[int], chars: int) -> np.ndarray:
    """Window weights whose maximum at each step is on `focus[t]`."""
    phi = np.full((len(focus), chars), 0.01, dtype=np.float32)
    phi[np.arange(len(focus)), focus] = 1.0
    return phi


def steady(chars: int, per_char: int) -> list[int]:
    return [u for u in range(chars) for _ in range(per_char)]


def test_a_clean_window_has_no_problems() -> None:
    assert window_problems(window(steady(5, 10), 5), stopped=True, monotonic=True) == []


def test_stall_and_backwards_are_named() -> None:
    problems = window_problems(window(steady(3, 10), 5), stopped=False, monotonic=False)
    assert [p.split(":")[0] for p in problems] == ["stalls", "runs backwards"]


def test_overrun_is_writing_long_after_the_last_character() -> None:
    focus = steady(5, 10) + [4] * 60  # 60 more points on the last character (10 per char)
    problems = window_problems(window(focus, 5), stopped=True, monotonic=True)
    assert len(problems) == 1 and problems[0].startswith("overruns the text: 70 points")
    short = steady(5, 10) + [4] * 15
    assert window_problems(window(short, 5), stopped=True, monotonic=True) == []


def test_a_prime_does_not_count_towards_the_characters_written() -> None:
    """Primed, the window starts past the prime's text: the per-character rate counts only
    the characters written after it."""
    focus = [3] * 12 + [4] * 30  # 12 points for character 3, then 30 on the last one
    assert window_problems(window(focus, 5), True, True, offered=3) == []
    assert window_problems(window(focus, 5), True, True, offered=0) != []


def test_page_ink_is_scaled_to_the_runs_spread() -> None:
    prime = prime_from_strokes([[[0, 0, 1], [100, 0, 1.1], [200, 0, 1.2]], [[300, 0, 1.3]]], "ab")
    assert prime.offsets[:, 2].tolist() == [0, 0, 1, 1]
    scaled = match_scale(prime.offsets, (5.0, 5.0))
    steps = scaled[1:, :2]
    assert np.isclose(np.sqrt((steps**2).mean()), 5.0)
    assert scaled[:, 2].tolist() == prime.offsets[:, 2].tolist()


def test_heatmap_is_bounded_and_keeps_maxima() -> None:
    phi = np.zeros((1000, 3), dtype=np.float32)
    phi[517, 1] = 0.9
    rows = heatmap(phi)
    assert rows is not None and len(rows) == 400
    assert max(max(r) for r in rows) == 0.9
