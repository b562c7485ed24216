#!/usr/bin/python3
"""bench/torch_bench.py -- the PyTorch reference for `make bench` (bench/bench_speed.cpp).

Builds the same two nets as nn/models.cpp -- CaffeNet-DLBHC at 227x227 (pool before norm, grouped
conv2/4/5, LRN 5/1e-4/0.75/1, dropout 0.5, latent 48 with a sigmoid, 10 classes) and the small
LeNet-style DLBHC net at 1x28x28 (conv 20 5x5, max 2x2/2, conv 50 5x5, max 2x2/2, ip1 500, ReLU,
latent 48, sigmoid, 10 classes) -- and times them on the CPU with the given thread count:

  train_ips      training images/s at the batch size (SGD with momentum 0.9 and weight decay
                 5e-4: zero_grad, forward, cross-entropy loss, backward, step), median of --repeats
  infer_ips      inference images/s at the batch size (eval mode, no_grad), median
  infer1_ips     inference images/s at batch 1 (1 / median latency)
  peak_mb        peak resident memory of this process (VmHWM) after the training runs
  base_mb        resident memory after importing torch, before building the net
  lrn_ms         (caffenet) norm1 + norm2 forward and backward alone at the batch size, median
With --infer1-only (bench/bench_latency.cpp): infer1_ips and one "layer1 <index> <module> <ms>"
line per module at batch 1.

Pooling uses ceil_mode=True, which gives Caffe's output sizes (55 -> 27 -> 13 -> 6; 24 -> 12 -> 4).
Prints one "key value" line per figure, which bench_speed parses. Run with /usr/bin/python3.
"""
import argparse
import statistics
import sys
import time


def vm_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def caffenet(nn, bits, classes):
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), pool(), lrn(),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), pool(), lrn(),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), pool(),
        nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, bits), nn.Sigmoid(), nn.Linear(bits, classes))


def small(nn, bits, classes):
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2, ceil_mode=True),
        nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2, ceil_mode=True),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(inplace=True),
        nn.Linear(500, bits), nn.Sigmoid(), nn.Linear(bits, classes))


def median_seconds(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def infer1_only(torch, model, chans, size, repeats):
    """Batch-1 latency (eval mode, no_grad), whole net and module by module."""
    model.eval()
    x1 = torch.empty(1, chans, size, size).uniform_(-100, 100)
    reps = max(5, 4 * repeats)
    with torch.no_grad():
        t = median_seconds(lambda: model(x1), reps, warmup=3)
        print("infer1_ips %.3f" % (1.0 / t))
        h = x1
        for i, m in enumerate(model):
            inp = h.clone()
            # in-place modules (ReLU) would change their input between runs: time them on a copy
            t = median_seconds(lambda: m(inp.clone()) if getattr(m, "inplace", False) else m(inp), reps, warmup=2)
            print("layer1 %d %s %.3f" % (i, type(m).__name__, t * 1e3))
            h = m(inp.clone())
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=["caffenet", "small"], required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bits", type=int, default=48)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--infer1-only", action="store_true",
                    help="only batch-1 inference: infer1_ips, and one 'layer1 <index> <module> <ms>' line per "
                         "module (each timed alone on its own input, medians)")
    a = ap.parse_args()

    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    nn = torch.nn
    print("torch_version", torch.__version__)
    print("threads", torch.get_num_threads())
    print("base_mb %.1f" % (vm_kb("VmRSS") / 1024.0))

    size, chans = (227, 3) if a.net == "caffenet" else (28, 1)
    build = caffenet if a.net == "caffenet" else small
    model = build(nn, a.bits, a.classes)
    if a.infer1_only:
        return infer1_only(torch, model, chans, size, a.repeats)
    x = torch.empty(a.batch, chans, size, size).uniform_(-100, 100)
    y = torch.randint(0, a.classes, (a.batch,))
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)

    model.train()
    def train_step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    t = median_seconds(train_step, a.repeats)
    print("train_ips %.3f" % (a.batch / t))
    print("peak_mb %.1f" % (vm_kb("VmHWM") / 1024.0))

    model.eval()
    with torch.no_grad():
        t = median_seconds(lambda: model(x), a.repeats)
        print("infer_ips %.3f" % (a.batch / t))
        x1 = x[:1].contiguous()
        t = median_seconds(lambda: model(x1), max(5, 4 * a.repeats), warmup=3)
        print("infer1_ips %.3f" % (1.0 / t))

    if a.net == "caffenet":
        # The two LRN layers alone, forward and backward, on inputs of their shapes.
        lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        n1 = torch.randn(a.batch, 96, 27, 27, requires_grad=True)
        n2 = torch.randn(a.batch, 256, 13, 13, requires_grad=True)
        g1, g2 = torch.randn(a.batch, 96, 27, 27), torch.randn(a.batch, 256, 13, 13)
        def lrn_step():
            lrn(n1).backward(g1)
            lrn(n2).backward(g2)
        print("lrn_ms %.3f" % (1e3 * median_seconds(lrn_step, a.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
