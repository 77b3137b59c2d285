"""A weight-identical PyTorch twin of a Keras chain CNN, for peer benchmarks.

`layer_specs(model)` reads a Keras chain (Sequential or functional without
branches) into plain specs with NumPy weights; `torch_twin(specs)` builds an
`nn.Sequential` computing the same function in NCHW. Kernels are transposed
HWIO -> OIHW, dense kernels (in, out) -> (out, in), and `Flatten` flattens in
Keras's NHWC order, so outputs match the Keras model to float32 rounding.

Layers covered: `InputLayer`, `Rescaling`, `ZeroPadding2D`, `Conv2D` (valid
or same padding, TensorFlow's asymmetric same padding; ReLU / linear /
softmax activation), `MaxPooling2D` and keras_zfnet's
`MaxPoolingWithSwitches2D` (valid padding), `LocalResponseNormalization`,
`Flatten`, `Dense`, `Dropout` (inference: skipped).

Two ReLU flavours, because the two torch tools need different ones:

- `relu="module"`: every ReLU is its own `nn.ReLU` module, which Captum's
  `Deconvolution` / `NeuronDeconvolution` hook (their backward becomes the
  ReLU of the incoming signal);
- `relu="deconvnet"`: a custom autograd function whose backward is the ReLU
  of the incoming gradient, so plain `torch.autograd.grad` computes the
  deconvnet signal with no Captum involved (the bare PyTorch floor).

`LocalResponseNormalization` computes the true normalization forward but
passes the gradient through unchanged (straight-through), as keras_zfnet's
mirror and the paper's deconvnet do; Captum differentiates every non-ReLU
module, so without this the twin's backward would differ from the mirror on
ZFNet. Max pooling routes the signal to the first maximum of each window
(PyTorch's CPU kernel), keras_zfnet's switch rule.
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def _same_padding(size, kernel, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def layer_specs(model):
    """Plain `(kind, name, params)` specs of a Keras chain model."""
    specs = []
    for layer in model.layers:
        kind = type(layer).__name__
        config = layer.get_config()
        name = layer.name
        if kind == "InputLayer":
            continue
        if kind in ("Dropout", "SpatialDropout2D"):
            continue
        if kind == "Rescaling":
            specs.append(("scale", name, dict(scale=float(config["scale"]),
                                              offset=float(config["offset"]))))
        elif kind == "ZeroPadding2D":
            (top, bottom), (left, right) = config["padding"]
            specs.append(("pad", name, dict(pad=(left, right, top, bottom))))
        elif kind == "Conv2D":
            weights = layer.get_weights()
            kernel = weights[0]
            bias = weights[1] if len(weights) > 1 else None
            stride = tuple(config["strides"])
            if config["padding"] == "same":
                height, width = layer.input.shape[1:3]
                (ky, kx) = kernel.shape[:2]
                top, bottom = _same_padding(height, ky, stride[0])
                left, right = _same_padding(width, kx, stride[1])
                pad = (left, right, top, bottom)
            elif config["padding"] == "valid":
                pad = (0, 0, 0, 0)
            else:
                raise ValueError(f"{name}: padding {config['padding']!r}")
            if tuple(config.get("dilation_rate", (1, 1))) != (1, 1) or \
                    config.get("groups", 1) != 1:
                raise ValueError(f"{name}: dilated/grouped conv not covered")
            specs.append(("conv", name, dict(kernel=kernel, bias=bias,
                                             stride=stride, pad=pad)))
            specs.append(_activation(config["activation"], name))
        elif kind in ("MaxPooling2D", "MaxPoolingWithSwitches2D"):
            if config["padding"] != "valid":
                raise ValueError(f"{name}: only valid max pooling covered")
            specs.append(("maxpool", name, dict(
                pool=tuple(config["pool_size"]),
                stride=tuple(config["strides"] or config["pool_size"]))))
        elif kind == "LocalResponseNormalization":
            specs.append(("lrn", name, dict(
                radius=config["depth_radius"], bias=config["bias"],
                alpha=config["alpha"], beta=config["beta"])))
        elif kind == "Flatten":
            specs.append(("flatten", name, {}))
        elif kind == "Dense":
            weights = layer.get_weights()
            specs.append(("dense", name, dict(
                kernel=weights[0],
                bias=weights[1] if len(weights) > 1 else None)))
            specs.append(_activation(config["activation"], name))
        else:
            raise ValueError(f"torch_twin: layer {name!r} ({kind}) not covered")
    return [s for s in specs if s is not None]


def _activation(activation, name):
    if activation == "linear":
        return None
    if activation in ("relu", "softmax"):
        return (activation, name, {})
    raise ValueError(f"{name}: activation {activation!r} not covered")


class DeconvReLU(torch.autograd.Function):
    """ReLU forward; backward passes the ReLU of the incoming signal."""

    @staticmethod
    def forward(ctx, x):
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad):
        return grad.clamp_min(0)


class DeconvReLUModule(nn.Module):
    def forward(self, x):
        return DeconvReLU.apply(x)


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class LRN(nn.Module):
    """Keras_zfnet's `LocalResponseNormalization` on NCHW, with a
    straight-through backward (the mirror's identity)."""

    def __init__(self, radius, bias, alpha, beta):
        super().__init__()
        self.radius, self.bias = radius, bias
        self.alpha, self.beta = alpha, beta

    def forward(self, x):
        r = self.radius
        channels = x.shape[1]
        with torch.no_grad():
            squares = F.pad(x * x, (0, 0, 0, 0, r, r))
            total = squares[:, 0:channels]
            for shift in range(1, 2 * r + 1):
                total = total + squares[:, shift:shift + channels]
            scale = (self.bias + self.alpha * total) ** (-self.beta)
            delta = x * scale - x
        return x + delta


class Conv(nn.Module):
    """`F.pad` (TensorFlow's same padding) then `nn.Conv2d`."""

    def __init__(self, kernel, bias, stride, pad):
        super().__init__()
        ky, kx, cin, cout = kernel.shape
        self.pad = tuple(int(p) for p in pad)
        self.conv = nn.Conv2d(cin, cout, (ky, kx), stride=stride,
                              bias=bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(
                np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
            if bias is not None:
                self.conv.bias.copy_(torch.from_numpy(bias))

    def forward(self, x):
        if any(self.pad):
            x = F.pad(x, self.pad)
        return self.conv(x)


def torch_twin(specs, relu="module"):
    """`(nn.Sequential, {keras layer name: index of its last module})`.

    The module at `index[name]` outputs what the Keras layer outputs
    (after its activation), in NCHW.
    """
    modules, index = [], {}
    for kind, name, p in specs:
        if kind == "scale":
            scale, offset = p["scale"], p["offset"]
            modules.append(Lambda(lambda x, s=scale, o=offset: x * s + o))
        elif kind == "pad":
            modules.append(Lambda(lambda x, pad=p["pad"]: F.pad(x, pad)))
        elif kind == "conv":
            modules.append(Conv(p["kernel"], p["bias"], p["stride"], p["pad"]))
        elif kind == "relu":
            modules.append(nn.ReLU() if relu == "module"
                           else DeconvReLUModule())
        elif kind == "softmax":
            modules.append(nn.Softmax(dim=1))
        elif kind == "maxpool":
            modules.append(nn.MaxPool2d(p["pool"], p["stride"]))
        elif kind == "lrn":
            modules.append(LRN(p["radius"], p["bias"], p["alpha"],
                               p["beta"]))
        elif kind == "flatten":
            modules.append(Lambda(
                lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)))
        elif kind == "dense":
            kernel = p["kernel"]
            linear = nn.Linear(*kernel.shape, bias=p["bias"] is not None)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(
                    np.ascontiguousarray(kernel.T)))
                if p["bias"] is not None:
                    linear.bias.copy_(torch.from_numpy(p["bias"]))
            modules.append(linear)
        else:
            raise ValueError(kind)
        index[name] = len(modules) - 1
    model = nn.Sequential(*modules).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model, index
