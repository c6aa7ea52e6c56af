"""Networks and registry: every config builds, runs forward/backward, and owns its weights."""

from __future__ import annotations

import pytest
import torch
from vidfsr.models import FSRNetConfig, create_model, list_models, model_config
from vidfsr.models.fsrnet import count_macs

from vidfsr.errors import ConfigError

TINY = {"channels": 8, "coarse_blocks": 1, "encoder_blocks": 2, "decoder_blocks": 1, "prior_channels": 16}


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_runs_forward_backward(name: str) -> None:
    model = create_model(name, **TINY)
    cfg = model.cfg
    x = torch.rand(2, 3 * cfg.frames, 128, 128)
    out = model(x)
    assert out.image.shape == out.coarse.shape == (2, 3, 128, 128)
    if cfg.prior and cfg.landmarks:
        assert out.heatmaps is not None and out.heatmaps.shape == (2, cfg.landmarks, 64, 64)
    else:
        assert out.heatmaps is None
    if cfg.prior and cfg.parsing:
        assert out.parsing is not None and out.parsing.shape == (2, cfg.parsing, 64, 64)
    else:
        assert out.parsing is None
    loss = out.image.mean() + out.coarse.mean()
    loss = loss + sum(m.mean() for m in (out.heatmaps, out.parsing) if m is not None)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_paper_configuration_size() -> None:
    model = create_model("fsrnet_x8")
    params = sum(p.numel() for p in model.parameters())
    assert 3.1e6 < params < 3.4e6
    assert 13.0e9 < count_macs(model) < 14.5e9


def test_blocks_do_not_share_weights() -> None:
    model = create_model("fsrnet_x8")
    ptrs = [p.data_ptr() for p in model.parameters()]
    assert len(ptrs) == len(set(ptrs))
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Module) and hasattr(m, "body")]
    assert len(convs) == 12
    assert convs[0].body[0].weight is not convs[1].body[0].weight


def test_ablation_configs_differ_as_the_paper_says() -> None:
    assert model_config("fsrnet_baseline_v1_x8").prior is False
    assert model_config("fsrnet_baseline_v2_x8").prior_supervised is False
    assert model_config("fsrnet_landmarks_x8").parsing == 0
    assert model_config("fsrnet_parsing_x8").landmarks == 0
    assert model_config("fsrnet_hg4_x8").hourglasses == 4
    assert model_config("fsrnet_lite_x4").lr_size == 32
    assert model_config("fsrnet_x2").lr_size == 64


def test_unknown_names_and_keys_get_hints() -> None:
    with pytest.raises(ConfigError, match="fsrnet_lite_x8"):
        create_model("fsrnet_lite_x9")
    with pytest.raises(ConfigError, match="channels"):
        FSRNetConfig.from_dict({"chanels": 3})
    with pytest.raises(ConfigError):
        FSRNetConfig(scale=3)


def test_k_frame_model_starts_as_the_single_frame_one() -> None:
    """expand_frames gives the earlier frames zero input weights: the same output whatever they hold, and
    exactly the single-frame model's; afterwards those weights get gradients, so training can use them."""
    from vidfsr.models.fsrnet import expand_frames

    torch.manual_seed(0)
    one = create_model("fsrnet_lite_real", **TINY).eval()
    three = create_model("fsrnet_lite_real_k3", **TINY).eval()
    three.load_state_dict(expand_frames(one.state_dict(), 3))
    x = torch.rand(2, 3, 128, 128)
    others = torch.rand(2, 6, 128, 128)
    with torch.no_grad():
        assert torch.equal(one(x).image, three(torch.cat([x, others], 1)).image)
    three.train()
    three(torch.cat([x, others], 1)).image.mean().backward()
    grad = three.coarse[0].weight.grad
    assert grad is not None and grad[:, 3:].abs().sum() > 0
    with pytest.raises(ConfigError, match="frames"):
        FSRNetConfig(frames=0)
    assert count_macs(three) > count_macs(one)


def _tiny_with_statistics() -> torch.nn.Module:
    """A tiny real-world FSRNet (seeded) whose batch-norm statistics are not the defaults, as trained weights'
    are: what growing a network must carry over."""
    torch.manual_seed(0)
    model = create_model("fsrnet_lite_real", **TINY)
    model.train()
    with torch.no_grad():
        model(torch.rand(4, 3, 128, 128))
    return model


def test_deeper_model_starts_as_the_trained_one() -> None:
    """expand_blocks keeps every trained block in place and starts the new ones as the identity: the deeper
    network's output equals the shallow one's exactly, the new blocks then get gradients, and shrinking or a
    different width is refused."""
    from vidfsr.models.fsrnet import expand_blocks

    shallow = _tiny_with_statistics().eval()
    deep = create_model("fsrnet_lite_real", **{**TINY, "coarse_blocks": 2, "encoder_blocks": 3, "decoder_blocks": 2})
    deep.load_state_dict(expand_blocks(shallow.state_dict(), shallow.cfg, deep))
    deep.eval()
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(shallow(x).image, deep(x).image)
    assert torch.equal(deep.encoder[2 + 3].weight, shallow.encoder[2 + 2].weight)  # the last conv moved
    deep.train()
    deep(x).image.mean().backward()
    assert deep.encoder[2 + 2].body[4].weight.grad.abs().sum() > 0  # a new block learns
    with pytest.raises(ConfigError, match="shrink"):
        expand_blocks(deep.state_dict(), deep.cfg, shallow)
    wide = create_model("fsrnet_lite_real", **{**TINY, "channels": 16})
    with pytest.raises(ConfigError, match="block counts"):
        expand_blocks(shallow.state_dict(), shallow.cfg, wide)
    assert create_model("fsrnet_lite_real_deep").cfg.encoder_blocks == 12


def test_wider_model_starts_as_the_trained_one_and_its_copies_part() -> None:
    """expand_width doubles both widths with the same output (eval and training mode), and the channel copies
    learn apart after a step (equal weight splits would keep them copies); the shipped lite weights grow into
    fsrnet_real_grown with their output."""
    from vidfsr.models.fsrnet import expand_blocks, expand_width

    narrow = _tiny_with_statistics()
    wide = create_model("fsrnet_lite_real", **{**TINY, "channels": 16, "prior_channels": 32})
    wide.load_state_dict(expand_width(narrow.state_dict(), narrow.cfg, wide))
    x = torch.rand(2, 3, 128, 128)
    for mode in ("eval", "train"):
        narrow.train(mode == "train")
        wide.train(mode == "train")
        with torch.no_grad():
            a, b = narrow(x), wide(x)
        for field in ("image", "coarse", "heatmaps", "parsing"):
            assert torch.allclose(getattr(a, field), getattr(b, field), atol=1e-4), (mode, field)
    c = 8  # the first encoder convolution's outputs: channel i and its copy i + c
    first = wide.encoder[0].weight
    assert torch.equal(first[:c], first[c:])
    opt = torch.optim.SGD(wide.parameters(), lr=0.1)
    wide(x).image.square().mean().backward()
    opt.step()
    assert not torch.allclose(first[:c], first[c:])
    with pytest.raises(ConfigError, match="stay or double"):
        expand_width(narrow.state_dict(), narrow.cfg, create_model("fsrnet_lite_real", **{**TINY, "channels": 12}))
    with pytest.raises(ConfigError, match="only the widths"):
        deeper = create_model("fsrnet_lite_real", **{**TINY, "channels": 16, "encoder_blocks": 3})
        expand_width(narrow.state_dict(), narrow.cfg, deeper)
    from vidfsr.models.io import load_model

    shipped = load_model("fsrnet_lite_real").eval()
    grown = create_model("fsrnet_real_grown")
    start = create_model("fsrnet_lite_real", channels=64, prior_channels=128)
    grown.load_state_dict(expand_blocks(expand_width(shipped.state_dict(), shipped.cfg, start), start.cfg, grown))
    grown.eval()
    with torch.no_grad():
        assert torch.allclose(shipped(x).image, grown(x).image, atol=1e-5)


def test_paper_configuration_is_literal_and_its_loss_is_eq4() -> None:
    """The registered paper network has no global residual (a named variant has it), and the ``paper`` loss is
    eq. 4: per-image sums of squared errors, halved, averaged over the batch."""
    from vidfsr.models.fsrnet import FSRNetOutput
    from vidfsr.models.losses import fsrnet_loss

    assert model_config("fsrnet_x8").global_residual is False
    assert model_config("fsrnet_baseline_v1_x8").global_residual is False
    assert model_config("fsrnet_residual_x8").global_residual is True
    assert model_config("fsrnet_lite_x8").global_residual is True
    cfg = model_config("fsrnet_x8")
    hr = torch.zeros(2, 3, 4, 4)
    out = FSRNetOutput(torch.ones(2, 3, 4, 4), torch.full((2, 3, 4, 4), 2.0), torch.ones(2, 68, 2, 2), None)
    heat = torch.zeros(2, 68, 2, 2)
    total, terms = fsrnet_loss(out, hr, heat, None, cfg, 1.0, 1.0, "paper")
    # coarse: 48 elements per image of 2^2 -> 192 / 2; fine: 48 of 1 -> 24; prior: 272 of 1 -> 136.
    assert terms["coarse"] == 96 and terms["fine"] == 24 and terms["prior"] == 136
    assert float(total) == 96 + 24 + 136
    _, mean_terms = fsrnet_loss(out, hr, heat, None, cfg, 1.0, 1.0, "mean")
    assert mean_terms["coarse"] == 4 and mean_terms["fine"] == 1 and mean_terms["prior"] == 1


def test_relative_loss_weights_each_face_by_its_input_error() -> None:
    """``relative``: a face whose input is already close to the truth weighs more, in inverse proportion to its
    input's error; the weights average 1 over the batch (equal inputs: the ``mean`` loss), the prior is as is."""
    from vidfsr.models.fsrnet import FSRNetOutput
    from vidfsr.models.losses import fsrnet_loss

    cfg = model_config("fsrnet_lite_x8")
    hr = torch.zeros(2, 3, 4, 4)
    heat = torch.zeros(2, 68, 2, 2)
    out = FSRNetOutput(torch.full((2, 3, 4, 4), 0.1), torch.full((2, 3, 4, 4), 0.2), torch.ones(2, 68, 2, 2), None)
    same_input = torch.full((2, 3, 4, 4), 0.3)
    _, rel = fsrnet_loss(out, hr, heat, None, cfg, 1.0, 1.0, "relative", same_input)
    _, mean = fsrnet_loss(out, hr, heat, None, cfg, 1.0, 1.0, "mean")
    assert rel == pytest.approx(mean)
    # Face 0's input is 4x closer in squared error: its weight is ~4x face 1's (the 1e-5 floor aside).
    inputs = torch.cat([torch.full((1, 3, 4, 4), 0.05), torch.full((1, 3, 4, 4), 0.1)])
    image = torch.cat([torch.full((1, 3, 4, 4), 0.1), torch.zeros(1, 3, 4, 4)])  # only face 0 is wrong
    _, terms0 = fsrnet_loss(out._replace(image=image), hr, heat, None, cfg, 1.0, 1.0, "relative", inputs)
    image = torch.cat([torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1)])  # only face 1 is wrong
    _, terms1 = fsrnet_loss(out._replace(image=image), hr, heat, None, cfg, 1.0, 1.0, "relative", inputs)
    assert terms0["fine"] / terms1["fine"] == pytest.approx(4.0, rel=0.02)
    assert terms0["prior"] == mean["prior"]
    with pytest.raises(ValueError, match="model input"):
        fsrnet_loss(out, hr, heat, None, cfg, 1.0, 1.0, "relative")


def test_projected_loss_measures_what_the_pipeline_pastes(face_images: list) -> None:
    """The projected loss's back-projection is the pipeline's ``back_project`` (same OpenCV resizes, as matrices),
    with each face's own LR side and share."""
    import cv2
    import numpy as np
    from vidfsr.models.losses import back_projected
    from vidfsr.pipelines.blend import back_project

    faces, sides, shares = [], [37, 61], [1.0, 0.75]
    for face, side, share in zip(face_images[:2], sides, shares, strict=True):
        small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        frame = np.zeros((90, 90, 3), np.uint8)
        frame[5 : 5 + side, 7 : 7 + side] = small
        soft = cv2.GaussianBlur(face, (0, 0), 1.5)
        expected = back_project(soft, frame, np.array([7.0, 5.0, 7.0 + side, 5.0 + side]), share)
        up = cv2.resize(small.astype(np.float32), (128, 128), interpolation=cv2.INTER_CUBIC)
        faces.append((soft, up, expected))

    def t(images: list) -> torch.Tensor:
        return torch.from_numpy(np.stack(images).astype(np.float32) / 255).permute(0, 3, 1, 2)

    out = back_projected(t([f[0] for f in faces]), t([f[1] for f in faces]), torch.tensor(sides), torch.tensor(shares))
    out = out.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255
    for k, (soft, _, expected) in enumerate(faces):
        assert np.abs(out[k] - expected).max() <= 0.51  # the pipeline's rounding to uint8
        assert np.abs(out[k] - soft).mean() > 1.0  # and the step did change the soft face

    # In the loss: the fine term is the error after the step, plus ``raw_weight`` of the plain one.
    from vidfsr.models.fsrnet import FSRNetOutput
    from vidfsr.models.losses import fsrnet_loss

    hr, image, inputs = t([f for f in face_images[:2]]), t([f[0] for f in faces]), t([f[1] for f in faces])
    out_ = FSRNetOutput(image, image, None, None)
    cfg = model_config("fsrnet_lite_real")
    proj = (torch.tensor(sides), torch.tensor(shares))
    _, plain = fsrnet_loss(out_, hr, None, None, cfg, reduction="mean")
    _, projected = fsrnet_loss(out_, hr, None, None, cfg, 1.0, 1.0, "projected", inputs, proj)
    _, mixed = fsrnet_loss(out_, hr, None, None, cfg, 1.0, 1.0, "projected", inputs, proj, raw_weight=0.3)
    assert projected["fine"] < plain["fine"]  # the step brings the soft faces nearer the truth
    assert mixed["fine"] == pytest.approx(projected["fine"] + 0.3 * plain["fine"], rel=1e-5)
    assert projected["coarse"] == plain["coarse"]
