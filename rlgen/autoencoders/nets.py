"""Encoders and decoders of the autoencoders, MLP or convolutional, optionally conditioned on a class label.

MLP (`model.conv: []`): flatten → dense `hidden` layers. Convolutional (`model.conv: [32, 64]`): one strided
convolution per entry (kernel `conv_kernel`, stride 2, padding 1: 28 → 14 → 7), flatten, then the dense layers. The
decoder mirrors the encoder: dense layers back to the last convolution's (C, H, W), then one transposed convolution
per entry, the last one to the image's channels; its output padding is chosen so that every map regains the exact
size the encoder saw (`decoder_refine: K`: the last one gives K channels, and a 3×3 stride-1 convolution the image's).
Decoders end in per-pixel logits, flat: (…, C·H·W).

A conditional model takes the one-hot label as extra input: as constant planes stacked on the image's channels (conv)
or appended to the pixel vector (MLP) in the encoder, appended to the latent code in the decoder. With
`label_every_layer`, every layer of the decoder also sees it (`LabelledDecoder`): each layer's output is scaled and
shifted per class, feature by feature (FiLM; Perez et al., 2018).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rlgen.autoencoders.config import AutoencoderNetConfig
from rlgen.errors import ConfigError
from rlgen.nets import ACTIVATIONS, build_mlp, init_layer

Shape = tuple[int, ...]


def _conv_out(size: int, kernel: int) -> int:
    return (size + 2 - kernel) // 2 + 1


def conv_shapes(net: AutoencoderNetConfig, image_shape: Shape, extra_channels: int = 0) -> list[Shape]:
    """The (C, H, W) of the encoder's input and of each convolution's output."""
    shapes = [(image_shape[0] + extra_channels, *image_shape[1:])]
    for i, channels in enumerate(net.conv):
        height, width = (_conv_out(s, net.conv_kernel) for s in shapes[-1][1:])
        if min(height, width) < 1:
            raise ConfigError(f"model.conv[{i}]: a kernel of {net.conv_kernel} with stride 2 does not fit the "
                              f"{shapes[-1][1]}x{shapes[-1][2]} map it gets; use fewer convolutions")
        shapes.append((channels, height, width))
    return shapes


def _conv_block(conv: nn.Module, channels: int, net: AutoencoderNetConfig, activation: str | None) -> nn.Sequential:
    layers = [conv]
    if activation is not None:
        init_layer(conv, net.init, activation)
        if net.batch_norm:
            layers.append(nn.BatchNorm2d(channels))
        layers.append(ACTIVATIONS[activation]())
    else:
        init_layer(conv, net.init, "identity")
    return nn.Sequential(*layers)


def build_encoder(net: AutoencoderNetConfig, image_shape: Shape, out_features: int, extra: int = 0,
                  output_activation: str = "identity", hidden: list[int] | None = None) -> nn.Sequential:
    """Images (B, C, H, W) → (B, out_features): [convolutions →] flatten → dense layers (`hidden`, default the
    config's) → out_features. `extra`: one-hot label size the input carries (as planes, or appended pixels)."""
    hidden = net.hidden if hidden is None else hidden
    if not net.conv:
        return nn.Sequential(nn.Flatten(), *build_mlp(net.mlp(hidden, output_activation), math.prod(image_shape) + extra,
                                                     out_features))
    shapes = conv_shapes(net, image_shape, extra)
    convs = [_conv_block(nn.Conv2d(shapes[i][0], shapes[i + 1][0], net.conv_kernel, 2, 1,
                                   bias=not net.batch_norm), shapes[i + 1][0], net, net.activation)
             for i in range(len(net.conv))]
    return nn.Sequential(*convs, nn.Flatten(),
                         *build_mlp(net.mlp(hidden, output_activation), math.prod(shapes[-1]), out_features))


def build_decoder(net: AutoencoderNetConfig, image_shape: Shape, in_features: int,
                  label_every_layer: int = 0) -> nn.Module:
    """(…, in_features) → (…, C·H·W) pixel logits: dense layers (reversed `hidden`) [→ transposed convolutions].
    `label_every_layer`: the number of classes whose one-hot label ends the input and conditions every layer."""
    decoder = _build_decoder(net, image_shape, in_features)
    return LabelledDecoder(decoder, label_every_layer) if label_every_layer else decoder


def _build_decoder(net: AutoencoderNetConfig, image_shape: Shape, in_features: int) -> nn.Sequential:
    pixels = math.prod(image_shape)
    if not net.conv:
        return build_mlp(net.mlp(net.hidden[::-1]), in_features, pixels)
    shapes = conv_shapes(net, image_shape)
    dense = build_mlp(net.mlp(net.hidden[::-1], output_activation=net.activation), in_features, math.prod(shapes[-1]))
    ups: list[nn.Module] = []
    for i in range(len(net.conv), 0, -1):  # shapes[i] → shapes[i - 1]
        (c_in, h_in, _), (c_out, h_out, _) = shapes[i], shapes[i - 1]
        last = i == 1 and not net.decoder_refine  # this one gives the pixel logits
        c_out = image_shape[0] if last else (net.decoder_refine if i == 1 else c_out)
        padding = h_out - ((h_in - 1) * 2 - 2 + net.conv_kernel)  # the rows the encoder's floor division dropped
        conv = nn.ConvTranspose2d(c_in, c_out, net.conv_kernel, 2, 1, output_padding=padding,
                                  bias=last or not net.batch_norm)
        ups.append(_conv_block(conv, c_out, net, None if last else net.activation))
    if net.decoder_refine:
        ups.append(_conv_block(nn.Conv2d(net.decoder_refine, image_shape[0], 3, 1, 1), image_shape[0], net, None))
    return nn.Sequential(*dense, nn.Unflatten(-1, shapes[-1]), *ups, nn.Flatten(-3))


class LabelledDecoder(nn.Module):
    """A decoder whose every layer sees the label, not only its input: the output of each linear or (transposed)
    convolution, before its normalisation and activation, becomes h·(1 + γ_y) + β_y, with a learned γ and β per class
    and feature (channel, for convolutions). The input is (B, latent + classes), the one-hot label last (or a mix of
    classes, which mixes their γ and β); γ = β = 0 at the start, so it starts as the plain decoder."""

    def __init__(self, decoder: nn.Sequential, classes: int):
        super().__init__()
        self.decoder = decoder
        self.classes = classes
        # the decoder is a chain: its modules without their Sequential wrappers, in order (a plain tuple, so that
        # the weights keep their names under `decoder.`)
        self._chain = tuple(m for m in decoder.modules() if not isinstance(m, nn.Sequential))
        self.film = nn.ModuleList()
        for layer in self._chain:
            if isinstance(layer, _WEIGHTED):
                width = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
                self.film.append(nn.Linear(classes, 2 * width, bias=False))
                nn.init.zeros_(self.film[-1].weight)

    def forward(self, z_and_label: torch.Tensor) -> torch.Tensor:
        label = z_and_label[:, -self.classes :]
        films = iter(self.film)
        h = z_and_label
        for layer in self._chain:
            h = layer(h)
            if isinstance(layer, _WEIGHTED):
                scale, shift = next(films)(label).to(h.dtype).chunk(2, -1)  # (B, width) each
                if h.dim() == 4:
                    scale, shift = scale[..., None, None], shift[..., None, None]
                h = h * (1 + scale) + shift
        return h


_WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def decode_logits(decoder: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Run a decoder on codes of any leading shape (…, latent) → (…, pixels); convolutions need one batch dim."""
    lead = z.shape[:-1]
    return decoder(z.reshape(-1, z.shape[-1])).reshape(*lead, -1)


def with_label_planes(x: torch.Tensor, onehot: torch.Tensor | None, conv: bool) -> torch.Tensor:
    """The encoder's input: images with the one-hot label as constant planes (conv) or appended (MLP)."""
    if onehot is None:
        return x
    if conv:
        planes = onehot[:, :, None, None].expand(-1, -1, *x.shape[2:]).to(x.dtype)
        return torch.cat([x, planes], 1)
    return torch.cat([x.flatten(1), onehot.to(x.dtype)], 1)
