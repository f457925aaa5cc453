"""PyTorch peer of the fer-small-cnn records: the same 4- or 5-layer net trained on the same FER2013 folders with the
same settings (Adam lr 1e-3, batch 64, inputs in [0, 1], 'same' padding, Glorot-uniform weights and zero biases as
Keras initialises them, a seeded 10% of train/ for validation, disgust dropped), to tell whether the gap to the
published figures is this engine's or the recipe's. Prints each epoch's validation and test accuracy as JSON lines.

Usage: /usr/bin/python3 bench/torch_fer_small_cnn.py FER2013_DIR [cnn4|cnn5] [EPOCHS] [THREADS] [SEED]
Run with Debian's python3-torch; installs nothing and writes nothing.
"""
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from torch import nn

CLASSES = ["angry", "fear", "happy", "neutral", "sad", "surprise"]


def load(folder):
    xs, ys = [], []
    for label, name in enumerate(CLASSES):
        d = os.path.join(folder, name)
        for f in sorted(os.listdir(d)):
            xs.append(np.asarray(Image.open(os.path.join(d, f)).convert("L"), dtype=np.float32) / 255.0)
            ys.append(label)
    return torch.from_numpy(np.stack(xs)[:, None]), torch.tensor(ys)


def net(kind):
    if kind == "cnn4":
        layers = [nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(16, 36, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Flatten(), nn.Linear(12 * 12 * 36, 128), nn.ReLU(), nn.Linear(128, 6)]
    else:
        layers = [nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(64, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Flatten(), nn.Linear(6 * 6 * 64, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 6)]
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + 512]).argmax(1) == y[i:i + 512]).sum().item() for i in range(0, len(x), 512))
    return correct / len(x)


def main():
    root = sys.argv[1]
    kind = sys.argv[2] if len(sys.argv) > 2 else "cnn4"
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 27
    torch.manual_seed(seed)
    x, y = load(os.path.join(root, "train"))
    xt, yt = load(os.path.join(root, "test"))
    order = torch.randperm(len(x))
    n_val = round(0.1 * len(x))
    xv, yv, xtr, ytr = x[order[:n_val]], y[order[:n_val]], x[order[n_val:]], y[order[n_val:]]
    model = net(kind)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    print(json.dumps({"net": kind, "seed": seed, "train": len(xtr), "validation": len(xv), "test": len(xt), "torch": torch.__version__}))
    iteration = 0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            iteration += 1
        row = {"epoch": epoch + 1, "iterations": iteration, "loss": round(loss.item(), 4),
               "train_acc": round(accuracy(model, xtr, ytr), 4), "val_acc": round(accuracy(model, xv, yv), 4),
               "test_acc": round(accuracy(model, xt, yt), 4), "seconds": round(time.perf_counter() - t0, 1)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
