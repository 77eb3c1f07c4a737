#!/usr/bin/env python3
"""Parity fixtures for wildfer-train's losses, optimizers and schedules, computed with PyTorch.

Writes crates/wildfer-train/tests/fixtures/train_fixtures.json:
- losses on fixed logits [6, 7] with targets containing -1 (masked): CrossEntropyLoss
  (ignore_index=-1), the same with class weights, both again with label_smoothing=0.1, and
  focal loss alpha_y * (1 - p_t)^gamma * CE averaged over the frames with a target; value and
  the gradient w.r.t. the logits;
- a Linear(5, 3) trained 3 steps on fixed data with cross-entropy by SGD (momentum 0.9,
  dampening 0, weight decay 0.01; plain and Nesterov) and by AdamW (betas 0.9/0.999, eps 1e-8,
  weight decay 0.01): the final weight and bias;
- learning rates of LinearLR (the warm-up), StepLR and CosineAnnealingLR.

Every input is a closed-form function of its index, so the Rust test rebuilds it exactly.

Usage: python3 reference/train_fixtures.py  (torch 2.x)
"""

import json
import math
import pathlib

import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/wildfer-train/tests/fixtures/train_fixtures.json"


def det(n, scale, phase):
    """The values the Rust test computes: scale * sin(0.7 * i + phase), i = 0..n-1."""
    return [scale * math.sin(0.7 * i + phase) for i in range(n)]


def tensor(shape, scale, phase):
    n = 1
    for s in shape:
        n *= s
    return torch.tensor(det(n, scale, phase), dtype=torch.float64).reshape(shape)


def losses():
    logits0 = tensor([6, 7], 2.0, 0.3)
    targets = [0, 3, -1, 6, 2, 5]
    weights = [0.5, 1.0, 2.0, 1.5, 1.0, 0.7, 3.0]
    t = torch.tensor(targets)
    out = {"targets": targets, "class_weights": weights}
    names = ["cross_entropy", "weighted_cross_entropy", "focal",
             "cross_entropy_smoothed", "weighted_cross_entropy_smoothed"]
    for name in names:
        logits = logits0.clone().requires_grad_(True)
        w = torch.tensor(weights, dtype=torch.float64)
        if name == "cross_entropy":
            loss = F.cross_entropy(logits, t, ignore_index=-1)
        elif name == "weighted_cross_entropy":
            loss = F.cross_entropy(logits, t, weight=w, ignore_index=-1)
        elif name == "cross_entropy_smoothed":
            loss = F.cross_entropy(logits, t, ignore_index=-1, label_smoothing=0.1)
        elif name == "weighted_cross_entropy_smoothed":
            loss = F.cross_entropy(logits, t, weight=w, ignore_index=-1, label_smoothing=0.1)
        else:
            valid = t >= 0
            ce = F.cross_entropy(logits[valid], t[valid], reduction="none")
            pt = torch.exp(-ce)
            loss = (w[t[valid]] * (1 - pt) ** 2.0 * ce).mean()
        loss.backward()
        out[name] = {"loss": loss.item(), "grad": logits.grad.flatten().tolist()}
    return out


def optimizers():
    x = tensor([4, 5], 1.0, 0.1).float()
    y = torch.tensor([0, 2, 1, 2])
    res = {"x": x.flatten().tolist(), "y": y.tolist()}
    for name in ["sgd", "sgd_nesterov", "adamw"]:
        lin = torch.nn.Linear(5, 3)
        with torch.no_grad():
            lin.weight.copy_(tensor([3, 5], 0.4, 1.1))
            lin.bias.copy_(tensor([3], 0.2, 2.0))
        if name == "adamw":
            opt = torch.optim.AdamW(lin.parameters(), lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
        else:
            opt = torch.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9, dampening=0,
                                  weight_decay=0.01, nesterov=(name == "sgd_nesterov"))
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(lin(x), y).backward()
            opt.step()
        res[name] = {"weight": lin.weight.detach().flatten().tolist(), "bias": lin.bias.detach().tolist()}
    res["init_weight"] = tensor([3, 5], 0.4, 1.1).flatten().tolist()
    res["init_bias"] = tensor([3], 0.2, 2.0).tolist()
    return res


def schedules():
    def run(make, n):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=0.5)
        sch = make(opt)
        lrs = []
        for _ in range(n):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sch.step()
        return lrs

    w = 5
    return {
        "base": 0.5,
        "warmup": {"iters": w, "lr": run(lambda o: torch.optim.lr_scheduler.LinearLR(o, 1 / w, 1.0, w - 1), w)},
        "step": {"step_size": 3, "gamma": 0.5, "lr": run(lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5), 10)},
        "cosine": {"iterations": 12, "min_lr": 0.05,
                   "lr": run(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 12, 0.05), 13)},
    }


def main():
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = {"torch": torch.__version__, "losses": losses(), "optim": optimizers(), "schedules": schedules()}
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
