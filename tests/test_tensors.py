import numpy as np
import pytest
import torch

from core.expr import ExprError
from core.tensors import (
    as_image,
    describe,
    factory,
    from_literal,
    from_numpy,
    next_name,
    parse_shape,
    valid_name,
)


def test_factories_make_what_the_code_says():
    c = factory("a", "rand", "2, 3")
    assert c.tensor.shape == (2, 3) and c.code == "a = torch.rand(2, 3, dtype=torch.float32)"
    assert torch.equal(factory("b", "arange", dtype="int64", start=0, end=5).tensor, torch.arange(5))
    assert factory("c", "linspace", start=0, end=1, steps=3).tensor.tolist() == [0.0, 0.5, 1.0]
    assert torch.equal(factory("d", "eye", "3").tensor, torch.eye(3))
    assert factory("e", "full", "2", fill=7.0).tensor.tolist() == [7.0, 7.0]
    assert factory("f", "ones", "2", requires_grad=True).tensor.requires_grad


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
