"""The public API of `obs` is small and pinned: it cannot grow by accident."""

from __future__ import annotations

import obs


def test_all_is_sorted_and_exactly_the_public_names() -> None:
    assert obs.__all__ == sorted(obs.__all__)
    assert set(obs.__all__) == set(dir(obs))


def test_every_public_name_resolves() -> None:
    for name in obs.__all__:
        assert getattr(obs, name) is not None, name
