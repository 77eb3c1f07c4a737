#!/usr/bin/env python3
"""Parity fixtures for wildfer-nn, computed with PyTorch (and torchvision for plain ResNets).

For each case the reference module is built, every parameter and buffer is filled with
detparams.det_param(<state_dict name>) and the input with det_tensor("input", ...), both of
which the Rust tests regenerate bit for bit. Only outputs, gradients and running statistics are
written, as small safetensors files under crates/wildfer-nn/tests/fixtures/, plus the state_dict
key sets (keys.json) that the Rust models must export.

Gradients are of loss = sum(output * det_tensor("loss_weight", output.shape, -1, 1)).

Architectures follow the seed code: torchvision ResNet topology and names; CBAM exactly as in
method A's training script (ChannelGate.mlp = Flatten, Linear, ReLU, Linear; SpatialGate.spatial
= conv 7x7 + BN(momentum 0.01), applied to the residual branch before the addition); SE as
torchvision.ops.SqueezeExcitation (fc1, fc2 as 1x1 convs with bias) at the same place; method A's
Net = resnet (ResNet-101 + CBAM, no fc) -> LSTM(2048, 64, bidirectional, batch_first) ->
out Linear(128, 64) -> out2 Linear(64, 7), no activation between, as in the published code.

Usage: python3 reference/nn_fixtures.py  (torch 2.15.0, torchvision 0.29.2, safetensors)
"""

import json
import math
import pathlib
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.numpy import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from detparams import det_tensor, fill_module  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/wildfer-nn/tests/fixtures"
torch.set_num_threads(2)
torch.use_deterministic_algorithms(True)


# ---- attention modules (names as in the seed code) -------------------------------------------
class BasicConv(nn.Module):
    def __init__(self, cin, cout, k, padding):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.01)

    def forward(self, x):
        return self.bn(self.conv(x))


class ChannelGate(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(c, c // r), nn.ReLU(), nn.Linear(c // r, c))

    def forward(self, x):
        h, w = x.shape[2], x.shape[3]
        a = self.mlp(F.avg_pool2d(x, (h, w), stride=(h, w)))
        m = self.mlp(F.max_pool2d(x, (h, w), stride=(h, w)))
        return x * torch.sigmoid(a + m).unsqueeze(2).unsqueeze(3)


class SpatialGate(nn.Module):
    def __init__(self, k=7):
        super().__init__()
        self.spatial = BasicConv(2, 1, k, padding=(k - 1) // 2)

    def forward(self, x):
        pooled = torch.cat((x.max(1)[0].unsqueeze(1), x.mean(1).unsqueeze(1)), dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class CBAM(nn.Module):
    def __init__(self, c, r=16):
        super().__init__()
        self.ChannelGate = ChannelGate(c, r)
        self.SpatialGate = SpatialGate()

    def forward(self, x):
        return self.SpatialGate(self.ChannelGate(x))


class LLAM(nn.Module):
    """wildfer's formulation (see wildfer_nn::attention::Llam): f * (1 + sigmoid(BN(conv(x))))."""

    def __init__(self, cin, cout, stride, k=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x, f):
        return f * (1 + torch.sigmoid(self.bn(self.conv(x))))


def se(c, r=16):
    return torchvision.ops.SqueezeExcitation(c, c // r)


# ---- ResNet blocks with an attention slot -------------------------------------------------------
def attach(block, kind, channels):
    if kind == "llam":
        block.llam = LLAM(block.conv1.in_channels, channels, block.stride)
    elif kind == "cbam":
        block.cbam = CBAM(channels, 16)
    elif kind == "se":
        block.se = se(channels, 16)
    return block


def att(block, out, x):
    if hasattr(block, "llam"):
        return block.llam(x, out)
    if hasattr(block, "cbam"):
        return block.cbam(out)
    if hasattr(block, "se"):
        return block.se(out)
    return out


class BasicBlock(torchvision.models.resnet.BasicBlock):
    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = att(self, out, x)
        return self.relu(out + identity)


class Bottleneck(torchvision.models.resnet.Bottleneck):
    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = att(self, out, x)
        return self.relu(out + identity)


def make_block(kind, cin, planes, stride, attention):
    cls = BasicBlock if kind == "basic" else Bottleneck
    cout = planes * cls.expansion
    down = None
    if stride != 1 or cin != cout:
        down = nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
        )
    return attach(cls(cin, planes, stride, down), attention, cout)


def resnet_features(m, x):
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
    return torch.flatten(m.avgpool(x), 1)


def resnet(depth, attention, num_classes):
    block, layers = {
        18: (BasicBlock, [2, 2, 2, 2]),
        50: (Bottleneck, [3, 4, 6, 3]),
        101: (Bottleneck, [3, 4, 23, 3]),
    }[depth]
    m = torchvision.models.resnet.ResNet(block, layers, num_classes=num_classes or 1000)
    if attention != "none":
        for stage in [m.layer1, m.layer2, m.layer3, m.layer4]:
            for b in stage:
                attach(b, attention, (b.bn3 if hasattr(b, "bn3") else b.bn2).num_features)
    if not num_classes:
        m.fc = nn.Identity()
    return m


class MethodA(nn.Module):
    def __init__(self, classes=7):
        super().__init__()
        self.resnet = resnet(101, "cbam", None)
        self.rnn = nn.LSTM(2048, 64, num_layers=1, batch_first=True, bidirectional=True)
        self.out = nn.Linear(128, 64)
        self.out2 = nn.Linear(64, classes)

    def forward(self, x):  # [B, T, 3, H, W] -> [B, T, classes]
        b, t = x.shape[:2]
        f = self.resnet(x.reshape(b * t, *x.shape[2:])).reshape(b, t, -1)
        r, _ = self.rnn(f)
        return self.out2(self.out(r))


# ---- SENet-50, VGGFace2 configuration (layout of the PyTorch port of the Caffe model) -------------
class SEBottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.conv4 = nn.Conv2d(planes * 4, planes * 4 // 16, 1)
        self.conv5 = nn.Conv2d(planes * 4 // 16, planes * 4, 1)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        s = torch.sigmoid(self.conv5(F.relu(self.conv4(F.adaptive_avg_pool2d(out, 1)))))
        res = x if self.downsample is None else self.downsample(x)
        return F.relu(s * out + res)


class SENet50(nn.Module):
    def __init__(self, num_classes=8631):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=0, ceil_mode=True)
        inplanes = 64
        for i, (planes, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
            layers = []
            for j in range(blocks):
                st = stride if j == 0 else 1
                down = None
                if st != 1 or inplanes != planes * 4:
                    down = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride=st, bias=False),
                                         nn.BatchNorm2d(planes * 4))
                layers.append(SEBottleneck(inplanes, planes, st, down))
                inplanes = planes * 4
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.fc = nn.Linear(2048, num_classes)

    def features(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x):
        return self.fc(self.features(x))


# ---- temporal heads (method B), names as in wildfer_nn::temporal ---------------------------------
def sinusoidal(t, d):
    pe = np.zeros((t, d), dtype=np.float64)
    for pos in range(t):
        for i in range(d):
            angle = pos / 10000.0 ** ((2 * (i // 2)) / d)
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return torch.from_numpy(pe.astype(np.float32))


def encoder(d, nhead, ff, layers):
    layer = nn.TransformerEncoderLayer(d, nhead, ff, dropout=0.0, batch_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class FrameHead(nn.Module):
    def __init__(self, f, hidden, classes):
        super().__init__()
        self.proj = nn.Linear(f, hidden)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc(torch.relu(self.proj(x)))


class RnnHead(nn.Module):
    def __init__(self, rnn, out, classes, middle):
        super().__init__()
        self.rnn, self.fc, self.middle = rnn, nn.Linear(out, classes), middle

    def forward(self, x):
        h = self.rnn(x)[0]
        if self.middle:
            h = h[:, h.shape[1] // 2 : h.shape[1] // 2 + 1]
        return self.fc(h)


class TransformerHead(nn.Module):
    def __init__(self, f, d, nhead, ff, layers, classes, middle):
        super().__init__()
        self.proj = nn.Linear(f, d)
        self.encoder = encoder(d, nhead, ff, layers)
        self.fc = nn.Linear(d, classes)
        self.middle = middle

    def forward(self, x, mask=None):
        h = self.proj(x) + sinusoidal(x.shape[1], self.proj.out_features)
        h = self.encoder(h, src_key_padding_mask=mask)
        if self.middle:
            h = h[:, h.shape[1] // 2 : h.shape[1] // 2 + 1]
        return self.fc(h)


# ---- fixture writing ----------------------------------------------------------------------------
def to_np(t):
    return t.detach().contiguous().numpy().astype(np.float32)


def run_case(name, module, input_shape, *, train, grads, extra_meta=None, call=None, features=None):
    fill_module(module)
    module.train(train)
    x = torch.from_numpy(det_tensor("input", input_shape, -1.0, 1.0)).requires_grad_(grads)
    out = (call or module)(x)
    tensors = {"output": to_np(out)}
    if grads:
        w = torch.from_numpy(det_tensor("loss_weight", tuple(out.shape), -1.0, 1.0))
        (out * w).sum().backward()
        tensors["grad.input"] = to_np(x.grad)
        for pname, p in module.named_parameters():
            tensors["grad." + pname] = to_np(p.grad)
    if features is not None:
        with torch.no_grad():
            tensors["features"] = to_np(features(x))
    if train:
        for bname, b in module.named_buffers():
            if b.is_floating_point():
                tensors["state." + bname] = to_np(b)
    meta = {"input_shape": json.dumps(list(input_shape)), "train": str(train).lower()}
    meta.update(extra_meta or {})
    save_file(tensors, str(OUT / f"{name}.safetensors"), metadata=meta)
    size = (OUT / f"{name}.safetensors").stat().st_size
    print(f"{name}: output {tuple(out.shape)} |max| {out.abs().max().item():.3g}, {size} bytes")
    return module


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    keys = {}

    def record(name, module):
        keys[name] = {k: list(v.shape) for k, v in module.state_dict().items()}

    run_case("se", se(32), (2, 32, 6, 6), train=False, grads=True)
    run_case("cbam", CBAM(32, 16), (2, 32, 6, 6), train=True, grads=True)
    m = run_case("cbam_eval", CBAM(32, 16), (2, 32, 6, 6), train=False, grads=False)
    # The same weights as a PyTorch checkpoint (zip format), to test .pt import end to end.
    torch.save(m.state_dict(), OUT / "cbam_eval_state_dict.pt")
    torch.save({"state_dict": m.state_dict(), "epoch": 3}, OUT / "cbam_eval_nested.pth")
    run_case("basic_block_cbam", make_block("basic", 16, 32, 2, "cbam"), (2, 16, 8, 8), train=True, grads=True)
    run_case("basic_block_eval", make_block("basic", 16, 16, 1, "none"), (2, 16, 8, 8), train=False, grads=False)
    run_case("bottleneck_se", make_block("bottleneck", 32, 16, 2, "se"), (2, 32, 8, 8), train=True, grads=True)
    run_case("basic_block_llam", make_block("basic", 16, 32, 2, "llam"), (2, 16, 8, 8), train=True, grads=True)
    run_case("bottleneck_cbam_eval", make_block("bottleneck", 64, 16, 1, "cbam"), (2, 64, 8, 8), train=False, grads=False)

    for depth, attention, classes in [(18, "none", 7), (18, "cbam", 7), (18, "llam", 7), (50, "none", None), (50, "cbam", 8)]:
        name = f"resnet{depth}" + ("" if attention == "none" else f"_{attention}")
        m = resnet(depth, attention, classes)
        run_case(name, m, (2, 3, 64, 64), train=False, grads=False, features=lambda x: resnet_features(m, x))
        record(name, m)
    # The plain ResNets must be torchvision's own: same key set as torchvision.models.
    for depth, ctor in [(18, torchvision.models.resnet18), (50, torchvision.models.resnet50)]:
        tv = set(ctor(num_classes=7).state_dict())
        ours = set(keys[f"resnet{depth}" if depth == 18 else "resnet50"])
        assert tv - {"fc.weight", "fc.bias"} <= ours | {"fc.weight", "fc.bias"}, depth

    senet = SENet50(7)
    run_case("senet50", senet, (2, 3, 112, 112), train=False, grads=False, features=senet.features)
    record("senet50", senet)

    lstm = nn.LSTM(20, 8, batch_first=True, bidirectional=True)
    run_case("bilstm", lstm, (2, 5, 20), train=True, grads=True, call=lambda x: lstm(x)[0])

    gru = nn.GRU(12, 6, num_layers=2, batch_first=True, bidirectional=True)
    run_case("gru2_bi", gru, (2, 7, 12), train=True, grads=True, call=lambda x: gru(x)[0])
    lstm2 = nn.LSTM(12, 6, num_layers=2, batch_first=True)
    run_case("lstm2", lstm2, (2, 7, 12), train=True, grads=True, call=lambda x: lstm2(x)[0])

    enc = encoder(16, 4, 32, 2)
    run_case("transformer", enc, (2, 9, 16), train=True, grads=True)
    # Batch item 1 has its last 3 frames padded (True = padding in PyTorch).
    pad = torch.zeros(2, 9, dtype=torch.bool)
    pad[1, 6:] = True
    run_case("transformer_masked", enc, (2, 9, 16), train=True, grads=False,
             call=lambda x: enc(x, src_key_padding_mask=pad))

    run_case("head_frame", FrameHead(20, 10, 7), (2, 5, 20), train=False, grads=True)
    run_case("head_gru_bi", RnnHead(nn.GRU(20, 8, batch_first=True, bidirectional=True), 16, 7, False),
             (2, 9, 20), train=False, grads=True)
    run_case("head_lstm_middle", RnnHead(nn.LSTM(20, 8, batch_first=True), 8, 8, True),
             (2, 9, 20), train=False, grads=True)
    run_case("head_transformer_middle", TransformerHead(20, 16, 4, 32, 1, 8, True), (2, 9, 20),
             train=False, grads=True)

    m = run_case("method_a", MethodA(7), (2, 8, 3, 64, 64), train=False, grads=False)
    record("method_a", m)

    (OUT / "keys.json").write_text(json.dumps(keys, indent=0, sort_keys=True) + "\n")
    print("keys.json:", {k: len(v) for k, v in keys.items()})


if __name__ == "__main__":
    main()
