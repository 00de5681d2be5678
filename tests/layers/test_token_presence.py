import numpy as np
import pytest

from avtfuse.layers.token_presence import TokenPresence


def test_repeats_each_presence_bit_over_its_tokens(layer_checks):
    present = np.array([[1, 0, 1], [0, 1, 0]], "float32")
    layer = TokenPresence([3, 1, 2])
    expected = np.array([[1, 1, 1, 0, 1, 1], [0, 0, 0, 1, 0, 0]], "float32")
    np.testing.assert_array_equal(layer(present).numpy(), expected)
    layer_checks.config_round_trip(TokenPresence([3, 1, 2]), present)
    layer_checks.save_load(TokenPresence([3, 1, 2]), present)


@pytest.mark.parametrize("counts, shape, message", [([2, 0], (1, 2), "token_counts"), ([], (1, 0), "token_counts"),
                                                    ([2, 2], (1, 3), "expected \\[batch, 2\\]")])
def test_rejects_bad_counts_and_inputs(counts, shape, message):
    with pytest.raises(ValueError, match=message):
        TokenPresence(counts)(np.ones(shape, "float32"))
