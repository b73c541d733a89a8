import pytest
import torch

from scrutiny.diagnostics import gamma
from scrutiny.layers.activations import ACTIVATIONS, GAMMA_TABLE, VECTOR_ACTIVATIONS, published_gamma


def test_the_tables_are_defined_once_and_diagnostics_re_exports_them():
    assert gamma.GAMMA_TABLE is GAMMA_TABLE
    assert gamma.ACTIVATIONS is ACTIVATIONS and gamma.VECTOR_ACTIVATIONS is VECTOR_ACTIVATIONS
    assert set(ACTIVATIONS) <= set(GAMMA_TABLE)  # every element-wise activation has a published gain


def test_published_gamma_is_the_table_and_the_table_method_of_activation_gamma():
    assert published_gamma("relu") == GAMMA_TABLE["relu"] == gamma.activation_gamma("relu") == 1.7139588594436646
    for bad in ("nope", torch.relu):
        with pytest.raises(ValueError, match="no published gamma"):
            published_gamma(bad)
