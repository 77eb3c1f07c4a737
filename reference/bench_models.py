#!/usr/bin/env python3
"""PyTorch side of `wildfer bench models`: the same cases, architectures and protocol as
wildfer_nn::bench (one warm-up run, then --runs timed runs), printed as one JSON object
{"torch": version, "threads": n, "cases": [{"case": name, "runs_ms": [...]}, ...]}.

Usage: python3 reference/bench_models.py --runs 5 --size 112 --threads 2 [--cases a,b]
"""

import argparse
import json
import pathlib
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from nn_fixtures import MethodA, resnet  # noqa: E402

CASES = ["resnet18_forward", "resnet50_forward", "method_a_forward", "resnet18_bilstm_train_step"]


def time_runs(runs, f):
    f()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        out.append((time.perf_counter() - t) * 1e3)
    return out


class Resnet18BiLstm(MethodA):
    def __init__(self):
        super().__init__(7)
        self.resnet = resnet(18, "none", None)
        self.rnn = nn.LSTM(512, 64, batch_first=True, bidirectional=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default=",".join(CASES))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    frames = torch.rand(8, 3, a.size, a.size)
    clip = frames.reshape(1, 8, 3, a.size, a.size)
    results = []
    for case in [c for c in CASES if c in a.cases.split(",")]:
        if case in ("resnet18_forward", "resnet50_forward"):
            m = resnet(18 if case == "resnet18_forward" else 50, "none", None).eval()
            with torch.no_grad():
                runs = time_runs(a.runs, lambda: m(frames))
        elif case == "method_a_forward":
            m = MethodA(7).eval()
            with torch.no_grad():
                runs = time_runs(a.runs, lambda: m(clip))
        else:
            m = Resnet18BiLstm().train()
            opt = torch.optim.SGD(m.parameters(), lr=1e-4, momentum=0.9)
            loss_fn = nn.CrossEntropyLoss()
            y = torch.tensor([0, 1, 2, 3, 4, 5, 6, 0])

            def step():
                opt.zero_grad()
                loss = loss_fn(m(clip).reshape(8, 7), y)
                loss.backward()
                opt.step()

            runs = time_runs(a.runs, step)
        results.append({"case": case, "runs_ms": runs})
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, "cases": results}))


if __name__ == "__main__":
    main()
