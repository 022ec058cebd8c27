import time

import numpy as np
import pytest
import torch

from core.expr import ExprError
from core.tensors import (
    HEATMAP_SIDE,
    PREVIEW_ELEMENTS,
    ResultCache,
    as_image,
    bridgeable,
    describe,
    downsample,
    factory,
    from_literal,
    from_numpy,
    next_name,
    operands,
    parse_shape,
    preview,
    valid_name,
)
from core.tensors import fits as fits_shapes


def test_factories_make_what_the_code_says():
    c = factory("a", "rand", "2, 3")
    assert c.tensor.shape == (2, 3) and c.code == "a = torch.rand(2, 3, dtype=torch.float32)"
    assert torch.equal(factory("b", "arange", dtype="int64", start=0, end=5).tensor, torch.arange(5))
    assert factory("c", "linspace", start=0, end=1, steps=3).tensor.tolist() == [0.0, 0.5, 1.0]
    assert torch.equal(factory("d", "eye", "3").tensor, torch.eye(3))
    assert factory("e", "full", "2", fill=7.0).tensor.tolist() == [7.0, 7.0]
    assert factory("f", "ones", "2", requires_grad=True).tensor.requires_grad


@pytest.mark.parametrize(
    "kind, values",
    [
        ("ones", {"shape": "2, 3", "dtype": "float64", "requires_grad": True}),
        ("full", {"shape": "3", "fill": 0.1234567}),
        ("arange", {"start": 0.5, "end": 4, "dtype": "float32"}),
        ("linspace", {"start": -1, "end": 1.25, "steps": 4}),
        ("eye", {"shape": "3", "dtype": "int32"}),
    ],
)
def test_a_created_tensor_is_exactly_what_its_shown_code_makes(kind, values):
    """One source: running the shown line in plain Python gives the same tensor, to the last digit."""
    created = factory("t", kind, **values)
    scope = {"torch": torch}
    exec(created.code, scope)
    made = scope["t"]
    assert torch.equal(made, created.tensor) and made.dtype == created.tensor.dtype
    assert made.requires_grad == created.tensor.requires_grad


def test_the_result_cache_runs_an_expression_once_until_what_it_reads_changes():
    a = torch.zeros(3)
    names = {"a": a}
    cache = ResultCache()
    first = cache.result_of("a.add_(1)", names)
    assert cache.result_of("a.add_(1)", names) is first and a.tolist() == [1.0, 1.0, 1.0]  # not twice
    drawn = cache.result_of("torch.rand(2)", names)
    assert cache.result_of("torch.rand(2)", names) is drawn  # the same draw, not a new one
    assert cache.result_of("a * 2", names).tolist() == [2.0, 2.0, 2.0]
    a.mul_(5)  # changed in place (its _version moves): evaluated again
    assert cache.result_of("a * 2", names).tolist() == [10.0, 10.0, 10.0]
    names["a"] = torch.ones(3)  # another tensor under the name: evaluated again
    assert cache.result_of("a * 2", names).tolist() == [2.0, 2.0, 2.0]
    assert isinstance(cache.result_of("b + 1", names), ExprError)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: factory("a", "zeros", "100000, 100000"), "limit here is 10,000,000"),
        (lambda: factory("a", "zeros", "2, -1"), "whole numbers"),
        (lambda: factory("a", "zeros", "two"), "is not a shape"),
        (lambda: factory("a", "rand", "2", dtype="int64"), "pick a float dtype"),
        (lambda: factory("a", "ones", "2", device="cuda:5"), "Available: cpu"),
        (lambda: from_literal("a", "__import__('os')"), "numbers or (nested) lists"),
        (lambda: from_literal("a", "[1, 'x']"), "is not a number"),
        (lambda: from_literal("a", "[[1, 2], [3]]"), "torch.tensor failed"),
        (lambda: valid_name("torch"), "cannot be a tensor name"),
        (lambda: valid_name("__class__"), "cannot be a tensor name"),
    ],
)
def test_bad_input_is_a_sentence(call, message):
    with pytest.raises(ExprError, match=None) as e:
        call()
    assert message in str(e.value)


def test_a_list_is_data_never_code():
    assert from_literal("a", "[[1, 2], [3, 4]]").tensor.tolist() == [[1, 2], [3, 4]]
    assert from_literal("a", "[1.5]", dtype="float64").tensor.dtype == torch.float64


def test_from_numpy_shares_memory_both_ways():
    c = from_numpy("n", "[1, 2, 3]")
    c.array[0] = 10
    c.tensor.add_(1)
    assert c.tensor.tolist() == [11, 3, 4] and c.array.tolist() == [11, 3, 4]
    assert isinstance(c.array, np.ndarray) and "torch.from_numpy(n_np)" in c.code


def test_describe_reports_storage_facts():
    t = torch.arange(6.0).reshape(2, 3)
    d = describe(t.t())
    assert d["shape"] == (3, 2) and d["stride"] == (1, 3) and d["contiguous"] is False
    assert d["bytes"] == 24 and d["element size (bytes)"] == 4 and d["data_ptr"] == hex(t.data_ptr())


def test_images_and_names():
    assert as_image(torch.rand(3, 4, 5)).shape == (4, 5, 3) and as_image(torch.rand(2, 3)) is None
    assert next_name({"a", "b"}) == "c" and parse_shape("(2, 3)") == (2, 3)


def test_a_huge_grid_is_previewed_and_downsampled_quickly():
    grid = torch.arange(500_000).reshape(1, -1)
    started = time.monotonic()
    shown = preview(grid)
    z, rows, cols = downsample(grid)
    assert time.monotonic() - started < 0.5
    assert shown.shape == (1, PREVIEW_ELEMENTS) and torch.equal(shown[0], torch.arange(PREVIEW_ELEMENTS))
    assert z.shape == (1, HEATMAP_SIDE) and rows == [0] and cols[:3] == [0, 5000, 10000]
    assert z[0, 0] == pytest.approx(torch.arange(5000.0).mean().item())  # each cell: its block's mean
    assert preview(torch.ones(3, 4)).shape == (3, 4) and downsample(torch.ones(3, 4))[0].shape == (3, 4)
    assert preview(torch.ones(5000, 3)).shape == (333, 3)


def test_pictures_of_any_size():
    assert as_image(torch.ones(3, 0, 4)) is None and as_image(torch.ones(0, 2, 2)) is None
    assert as_image(torch.rand(3, 2000, 1000)).shape == (256, 128, 3)


def test_which_pairs_multiply():
    a, b = torch.ones(2, 3), torch.ones(2, 3)
    assert fits_shapes("*", a, b) and not fits_shapes("@", a, b) and fits_shapes("@", a, b.T)
    assert not fits_shapes("@", a, torch.ones(3, 2, dtype=torch.long))  # dtypes must match for @
    assert list(operands({"a": a, "v": torch.ones(3)})) == ["a", "v", "a.T"]


def test_the_numpy_bridge_takes_only_what_shares_memory():
    assert bridgeable(torch.ones(2)) and bridgeable(torch.ones(2, dtype=torch.int64))
    assert not bridgeable(torch.ones(2, dtype=torch.bfloat16)) and not bridgeable(
        torch.ones(2, requires_grad=True)
    )


def test_empty_is_uninitialized_memory_of_the_shape_asked_for():
    c = factory("x", "empty", "5, 3")
    assert c.tensor.shape == (5, 3) and c.code == "x = torch.empty(5, 3, dtype=torch.float32)"


def test_the_bridges_comment_is_a_translatable_phrase():
    c = from_numpy("n", "[1, 2]")
    assert "#" not in c.code and c.comment == "shares memory with n_np"
    assert c.comment.template == "shares memory with {array}"
