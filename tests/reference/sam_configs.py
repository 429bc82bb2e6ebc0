"""Model construction and seeded random initialisation for the sam-engine reference harness.

All models are built from the OFFICIAL ``segment_anything.modeling`` classes (PyPI
``segment-anything==1.0``); put its install directory on PYTHONPATH.

Variants
--------
``vit_b``, ``vit_l``, ``vit_h``
    Built by ``segment_anything.sam_model_registry[variant](checkpoint=None)``, i.e.
    exactly the architecture of the released checkpoints (1024x1024 input, 64x64 grid,
    window 14, 256-d prompt/decoder).
``tiny``
    A small test configuration (256x256 input, 16x16 grid, embed 64, depth 4, 4 heads,
    window 6 so the window padding path 16 -> 18 is exercised, global blocks 1 and 3,
    32-d prompt encoder / decoder with 2 heads, mlp 64, mask_in_chans 8).

Random initialisation (``randomize_``)
--------------------------------------
Every entry of ``model.state_dict()`` is overwritten (including everything the official
init leaves at 0 or 1).  Each tensor gets its own ``torch.Generator`` seeded from
``sha256(f"{seed}:{key}")`` so a tensor's values depend only on (seed, key, shape) and
not on iteration order.  Distributions (``fan_in`` as defined below):

=============================================  =====================================
tensor                                          distribution
=============================================  =====================================
Linear / Conv2d weight                          N(0, (g / sqrt(fan_in))^2), fan_in = in*kh*kw
ConvTranspose2d weight [in, out, kh, kw]        same, fan_in = in * kh*kw / (sh*sw)
   gain g = 1.0, except residual-branch output projections (image-encoder
   ``blocks.*.attn.proj``, every ``mlp.lin2``, TwoWayTransformer ``*.out_proj``)
   which use g = RESIDUAL_OUT_GAIN (0.7)
Linear / Conv / ConvTranspose bias              N(0, 0.05^2)
LayerNorm / LayerNorm2d weight                  1 + N(0, 0.1^2)
LayerNorm / LayerNorm2d bias                    N(0, 0.05^2)
image_encoder.pos_embed                         N(0, 0.1^2)
image_encoder.blocks.*.attn.rel_pos_h / _w      N(0, (0.5 / sqrt(head_dim))^2)
   (q is not scaled before the rel-pos dot product, so this gives rel-pos logit
   terms of std ~0.5 next to attention logits of std ~1)
nn.Embedding weights (point_embeddings.*, not_a_point_embed, no_mask_embed,
   iou_token, mask_tokens)                      N(0, 1)
prompt_encoder.pe_layer.positional_encoding_gaussian_matrix
                                                N(0, 1)  (official scale 1.0)
=============================================  =====================================

Any state_dict entry not covered by these rules raises an error (so new parameters are
never silently left at their default init).  ``pixel_mean`` / ``pixel_std`` are
non-persistent buffers (not in the state_dict) and stay at the official values.
"""

import hashlib
import math
from functools import partial

import torch
from torch import nn

from segment_anything import sam_model_registry
from segment_anything.modeling import (
    ImageEncoderViT,
    MaskDecoder,
    PromptEncoder,
    Sam,
    TwoWayTransformer,
)
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.image_encoder import Attention as ViTAttention
from segment_anything.modeling.prompt_encoder import PositionEmbeddingRandom

VARIANTS = ("vit_b", "vit_l", "vit_h", "tiny")

RESIDUAL_OUT_GAIN = 0.7
BIAS_STD = 0.05
NORM_WEIGHT_STD = 0.1
NORM_BIAS_STD = 0.05
POS_EMBED_STD = 0.1
REL_POS_SCALE = 0.5  # std = REL_POS_SCALE / sqrt(head_dim)
EMBEDDING_STD = 1.0
GAUSSIAN_MATRIX_STD = 1.0


def build_tiny() -> Sam:
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=256,
            patch_size=16,
            in_chans=3,
            embed_dim=64,
            depth=4,
            num_heads=4,
            mlp_ratio=4,
            out_chans=32,
            qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_abs_pos=True,
            use_rel_pos=True,
            rel_pos_zero_init=True,
            window_size=6,
            global_attn_indexes=(1, 3),
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=32,
            image_embedding_size=(16, 16),
            input_image_size=(256, 256),
            mask_in_chans=8,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=32, mlp_dim=64, num_heads=2),
            transformer_dim=32,
            iou_head_depth=3,
            iou_head_hidden_dim=32,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    sam.eval()
    return sam


def build_model(variant: str) -> Sam:
    """Build an (untrained, official-init) Sam of the given variant in eval mode."""
    if variant == "tiny":
        return build_tiny()
    if variant in ("vit_b", "vit_l", "vit_h"):
        sam = sam_model_registry[variant](checkpoint=None)
        sam.eval()
        return sam
    raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")


def _generator(seed: int, key: str) -> torch.Generator:
    digest = hashlib.sha256(f"{int(seed)}:{key}".encode()).digest()
    g = torch.Generator(device="cpu")
    g.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
    return g


def _is_residual_out(key: str) -> bool:
    if key.startswith("image_encoder.blocks.") and key.endswith(".attn.proj.weight"):
        return True
    if key.endswith(".mlp.lin2.weight"):
        return True
    if key.startswith("mask_decoder.transformer.") and key.endswith(".out_proj.weight"):
        return True
    return False


def _fan_in(module: nn.Module, weight: torch.Tensor) -> float:
    if isinstance(module, nn.Linear):
        return float(weight.shape[1])
    if isinstance(module, nn.ConvTranspose2d):
        kh, kw = weight.shape[2], weight.shape[3]
        sh, sw = module.stride
        return float(weight.shape[0]) * kh * kw / (sh * sw)
    if isinstance(module, nn.Conv2d):
        return float(weight.shape[1] * weight.shape[2] * weight.shape[3])
    raise TypeError(type(module))


def _spec(module: nn.Module, local: str, key: str, tensor: torch.Tensor):
    """Return (mean, std) for a state_dict entry, or raise if it is not covered."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        if local == "weight":
            gain = RESIDUAL_OUT_GAIN if _is_residual_out(key) else 1.0
            return 0.0, gain / math.sqrt(_fan_in(module, tensor))
        if local == "bias":
            return 0.0, BIAS_STD
    elif isinstance(module, (nn.LayerNorm, LayerNorm2d)):
        if local == "weight":
            return 1.0, NORM_WEIGHT_STD
        if local == "bias":
            return 0.0, NORM_BIAS_STD
    elif isinstance(module, nn.Embedding):
        if local == "weight":
            return 0.0, EMBEDDING_STD
    elif isinstance(module, ImageEncoderViT):
        if local == "pos_embed":
            return 0.0, POS_EMBED_STD
    elif isinstance(module, ViTAttention):
        if local in ("rel_pos_h", "rel_pos_w"):
            head_dim = tensor.shape[1]
            return 0.0, REL_POS_SCALE / math.sqrt(head_dim)
    elif isinstance(module, PositionEmbeddingRandom):
        if local == "positional_encoding_gaussian_matrix":
            return 0.0, GAUSSIAN_MATRIX_STD
    raise KeyError(f"randomize_: no rule for state_dict entry {key!r} ({type(module).__name__})")


@torch.no_grad()
def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Overwrite every state_dict tensor of ``model`` in place (see module docstring)."""
    modules = dict(model.named_modules())
    sd = model.state_dict(keep_vars=True)
    for key, tensor in sd.items():
        mod_name, _, local = key.rpartition(".")
        module = modules[mod_name]
        mean, std = _spec(module, local, key, tensor)
        if not tensor.is_floating_point():
            raise TypeError(f"randomize_: {key} is not floating point ({tensor.dtype})")
        g = _generator(seed, key)
        vals = torch.randn(tuple(tensor.shape), generator=g, dtype=torch.float32)
        vals.mul_(std).add_(mean)
        tensor.copy_(vals)
    return model


def build_random(variant: str, seed: int = 0) -> Sam:
    return randomize_(build_model(variant), seed)
