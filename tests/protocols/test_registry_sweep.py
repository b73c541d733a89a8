"""Every registered image protocol: name and parameters are data, views and scores are deterministic."""

from __future__ import annotations

import json

import pytest
import torch

from scrutiny.protocols import ProtocolError, is_image_protocol, single_crop
from scrutiny.registry import PROTOCOLS

from .helpers import SmallCNN, random_image

IMAGE_PROTOCOLS = [name for name in PROTOCOLS.names() if is_image_protocol(PROTOCOLS.get(name)())]
SMALL = {
    "single_crop": {"resize": 40, "crop": 32},
    "ten_crop": {"resize": 40, "crop": 32},
    "multi_scale": {"scales": [32, 40]},
}


def test_the_image_protocols_are_registered_and_plain_is_not_one():
    assert set(IMAGE_PROTOCOLS) == {"single_crop", "ten_crop", "multi_scale"}
    assert not is_image_protocol(PROTOCOLS.get("plain")())


@pytest.mark.parametrize("name", IMAGE_PROTOCOLS)
def test_protocol_is_data_and_deterministic(name):
    protocol = PROTOCOLS.get(name)(**SMALL[name])
    assert protocol.name == name
    params = protocol.params()
    assert json.loads(json.dumps(params)) == params
    assert PROTOCOLS.get(name)(**params).params() == params  # the stored parameters rebuild the protocol
    torch.manual_seed(0)
    model = SmallCNN().eval()
    image = random_image(53, 41, seed=5)
    with torch.no_grad():
        first = protocol.scores(model, [protocol.views(image)])
        second = protocol.scores(model, [protocol.views(image)])
    assert torch.equal(first, second)
    assert [v.to_dict() for v in protocol.boxes(53, 41)] == [v.to_dict() for v in protocol.boxes(53, 41)]


def test_wrong_channel_count_fails_loudly():
    with pytest.raises(ProtocolError, match="3 channels"):
        single_crop().views(torch.zeros(1, 300, 300, dtype=torch.uint8))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", IMAGE_PROTOCOLS)
def test_cuda_scores_match_cpu(name):
    protocol = PROTOCOLS.get(name)(**SMALL[name])
    torch.manual_seed(0)
    model = SmallCNN().eval()
    views = [protocol.views(random_image(53 + i, 41, seed=i)) for i in range(3)]
    to_cuda = (lambda v: v.cuda()) if name != "multi_scale" else (lambda v: [s.cuda() for s in v])
    with torch.no_grad():
        cpu = protocol.scores(model, views)
        gpu = protocol.scores(model.cuda(), [to_cuda(v) for v in views])
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)
