#!/usr/bin/env python3
"""PyTorch side of `wildfer bench train`: the same recipe as wildfer's trainer on the same data.

ResNet-18 (torchvision, no fc) per frame -> bidirectional LSTM (hidden 64) -> Linear(128, 64)
-> Linear(64, 7) (method A's head on ResNet-18), cross-entropy on the frames with a label,
SGD lr 1e-4 momentum 0.9 (no dampening). Each step draws `--batch` clips of 8 consecutive
frames with crops from a uniformly drawn video (method A's sampling), decodes the JPEG crops in
a DataLoader with 2 worker processes, resizes them to `--size`, flips at random and normalises
with the ImageNet statistics. Prints one JSON object: per-step seconds, seconds waiting for
data, peak RSS (this process + the workers).

Usage: python3 bench_train.py --data ROOT --steps N [--batch 2] [--size 112] [--threads 2]
"""

import argparse
import json
import os
import random
import resource
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

CLASSES = 7
T = 8
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def read_split(root, split):
    ann = os.path.join(root, "annotations", "EXPR_Set", split)
    videos = []
    for name in sorted(os.listdir(ann)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(ann, name)) as f:
            labels = [int(x) for x in f.read().split("\n")[1:] if x.strip()]
        video = name[:-4]
        crops = os.path.join(root, "cropped_aligned", video)
        has = [os.path.exists(os.path.join(crops, f"{i + 1:05d}.jpg")) for i in range(len(labels))]
        starts = [s for s in range(len(labels) - T + 1) if all(has[s:s + T]) and labels[s] >= 0]
        if starts:
            videos.append((crops, labels, starts))
    return videos


class Clips(torch.utils.data.IterableDataset):
    def __init__(self, videos, size, batch, steps, seed):
        self.videos, self.size, self.batch, self.steps, self.seed = videos, size, batch, steps, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        for step in range(wid, self.steps, nw):
            rng = random.Random(self.seed * 1000003 + step)
            xs, ys = [], []
            for _ in range(self.batch):
                crops, labels, starts = self.videos[rng.randrange(len(self.videos))]
                s = starts[rng.randrange(len(starts))]
                flip = rng.random() < 0.5
                frames = []
                for f in range(s, s + T):
                    im = Image.open(os.path.join(crops, f"{f + 1:05d}.jpg")).convert("RGB")
                    im = im.resize((self.size, self.size), Image.BILINEAR)
                    a = (np.asarray(im, dtype=np.float32) / 255.0 - MEAN) / STD
                    if flip:
                        a = a[:, ::-1]
                    frames.append(a.transpose(2, 0, 1))
                xs.append(np.stack(frames))
                ys.append(labels[s:s + T])
            yield step, torch.from_numpy(np.stack(xs).copy()), torch.tensor(ys)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        import torchvision
        self.resnet = torchvision.models.resnet18()
        self.resnet.fc = nn.Identity()
        self.rnn = nn.LSTM(512, 64, batch_first=True, bidirectional=True)
        self.out = nn.Linear(128, 64)
        self.out2 = nn.Linear(64, CLASSES)

    def forward(self, x):
        b, t = x.shape[:2]
        f = self.resnet(x.flatten(0, 1)).view(b, t, -1)
        h, _ = self.rnn(f)
        return self.out2(self.out(h))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    videos = read_split(a.data, "Train_Set")
    loader = torch.utils.data.DataLoader(
        Clips(videos, a.size, a.batch, a.steps, 1), batch_size=None, num_workers=2, prefetch_factor=2
    )
    net = Net().train()
    opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9)
    steps, waits = [], []
    it = iter(loader)
    for _ in range(a.steps):
        t0 = time.perf_counter()
        _, x, y = next(it)
        t1 = time.perf_counter()
        logits = net(x).reshape(-1, CLASSES)
        loss = F.cross_entropy(logits, y.reshape(-1), ignore_index=-1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps.append(time.perf_counter() - t0)
        waits.append(t1 - t0)
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({
        "torch": torch.__version__, "threads": a.threads, "frames_per_step": a.batch * T,
        "step_s": steps, "wait_s": waits, "peak_rss_mb": kb / 1024.0,
    }))


if __name__ == "__main__":
    main()
