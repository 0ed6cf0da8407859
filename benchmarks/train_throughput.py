"""Training throughput: ``vae_core.train`` against the pytorch/examples VAE fed the way it is fed.

Both sides train the pytorch/examples VAE (784-400-20 MLP, Bernoulli BCE summed + closed-form KL,
Adam lr 1e-3, batch 128) on the same images (the 8,000-image train part of the MNIST IDX folder,
split 80/20 with seed 0 by ``vae_core.load_dataset``), one epoch per trial, in one process,
alternating A/B so that load from other processes hits both alike. The first trial of each side is
a warm-up and is not counted; the medians of the rest are printed, with their ratio.

(a) reference: written as pytorch/examples ``vae/main.py`` is: torchvision's own
    ``datasets.MNIST.__getitem__`` (a PIL image per sample, then ``transforms.ToTensor()``), a
    ``DataLoader(batch_size=128, shuffle=True)`` with the example's CPU kwargs (none), a model
    with fc1/fc21/fc22/fc3/fc4 and sigmoid outputs, its ``loss_function`` and its train loop
    (``loss.item()`` each step). Only the printing is left out.
(b) ``vae_core.train`` with the same architecture, end to end: it also builds the model and
    evaluates the 2,000 held-out images at the end of the epoch; that time is counted too.

Then a fresh subprocess trains ``vae_core`` one epoch on 60,000 28x28 images (the 10,000-image
test split tiled 6x) and reports its peak RSS (``ru_maxrss``), which must stay under 1.5 GB.

    .venv/bin/python benchmarks/train_throughput.py [MNIST_DIR] [--trials 5] [--threads N] [--no-rss]

On a shared machine, other processes' load hits the two-thread runs hardest (OpenMP threads wait
on each other); ``--threads 1`` gives steadier numbers there.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F
from torchvision import datasets, transforms
from torchvision.datasets.vision import VisionDataset

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vae_core import ImageDataset, ModelConfig, TrainConfig, load_dataset, run_to_end, train  # noqa: E402

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
BATCH = 128
RSS_LIMIT_MB = 1536
MODEL_CFG = ModelConfig(kind="vae", latent_dim=20, arch="mlp", hidden=(400,), input_shape=(1, 28, 28))


# --- (a) the reference, as pytorch/examples vae/main.py writes it ----------------------------------

class ExampleMNIST(datasets.MNIST):
    """torchvision's MNIST with its own ``__getitem__`` (PIL image + transform per sample), holding
    the given uint8 images: torchvision's constructor wants all four raw files, this folder may
    hold only the test split."""

    def __init__(self, data: torch.Tensor, targets: torch.Tensor, transform=None):
        VisionDataset.__init__(self, root=None, transform=transform)
        self.train = True
        self.data, self.targets = data, targets  # (N, 28, 28) uint8, (N,) int64


class ExampleVAE(nn.Module):
    def __init__(self):
        super(ExampleVAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def example_loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def run_reference(dataset: ExampleMNIST, epochs: int = 1, seed: int = 1) -> tuple[int, float]:
    """One trial of the example: model, optimizer, loader, ``epochs`` of its train(); returns the
    number of samples trained and the mean loss per image."""
    torch.manual_seed(seed)
    device = torch.device("cpu")
    kwargs = {}  # the example passes num_workers=1, pin_memory=True only with CUDA
    train_loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, **kwargs)
    model = ExampleVAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    samples = 0
    train_loss = 0.0
    for _ in range(epochs):
        model.train()
        for data, _ in train_loader:
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = example_loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            samples += len(data)
    return samples, train_loss / samples


# --- (b) vae_core ------------------------------------------------------------------------------

def run_vae_core(dataset: ImageDataset, epochs: int = 1, seed: int = 0) -> tuple[int, float]:
    tcfg = TrainConfig(epochs=epochs, batch_size=BATCH, lr=1e-3, beta=1.0, seed=seed, device="cpu")
    end = run_to_end(train(MODEL_CFG, tcfg, dataset))
    assert end["status"] == "finished", end["reason"]
    last_epoch = [r for r in end["history"] if r["type"] == "epoch"][-1]
    # Training time alone: the last epoch record's "seconds" is taken before its evaluation ran
    # (with several epochs it still includes the earlier epochs' evaluations).
    return end["samples_seen"], last_epoch["loss"], last_epoch["seconds"]


def timed(fn, *args) -> tuple[float, float, float]:
    t = time.perf_counter()
    samples, loss, *train_seconds = fn(*args)
    wall = time.perf_counter() - t
    return samples / wall, loss, samples / (train_seconds[0] if train_seconds else wall)


def throughput(mnist_dir: Path, trials: int, epochs: int) -> float:
    ds = load_dataset(f"idx:{mnist_dir}")
    # The same 8,000 images for both: vae_core's float [0, 1] train part, back to the exact uint8.
    images_u8 = (ds.train_x[:, 0] * 255).round().to(torch.uint8)
    assert torch.equal(images_u8.float() / 255, ds.train_x[:, 0])
    ref_ds = ExampleMNIST(images_u8, ds.train_y, transform=transforms.ToTensor())
    print(f"data: {ds!r}; {len(ref_ds)} training images for both, {epochs} epoch(s) per trial, "
          f"batch {BATCH}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    ref_rates, core_rates, core_train_rates = [], [], []
    for trial in range(trials + 1):  # trial 0 is the warm-up
        r, r_loss, _ = timed(run_reference, ref_ds, epochs)
        c, c_loss, ct = timed(run_vae_core, ds, epochs)
        tag = "warm-up" if trial == 0 else f"trial {trial}"
        print(f"  {tag:8s}  reference {r:7.0f}/s (loss {r_loss:5.1f})   vae_core {c:7.0f}/s end to "
              f"end, {ct:7.0f}/s training (loss {c_loss:5.1f})   ratio {c / r:4.2f}x, {ct / r:4.2f}x",
              flush=True)
        if trial:
            ref_rates.append(r)
            core_rates.append(c)
            core_train_rates.append(ct)
    ref, core, core_train = (statistics.median(v) for v in (ref_rates, core_rates, core_train_rates))
    per_trial = statistics.median([c / r for c, r in zip(core_rates, ref_rates)])
    print(f"median reference (PIL + ToTensor + DataLoader):    {ref:8.0f} samples/s")
    print(f"median vae_core.train, end to end (build + eval):  {core:8.0f} samples/s  "
          f"ratio {core / ref:.2f}x (median per-trial ratio {per_trial:.2f}x; goal >= 3x)")
    print(f"median vae_core.train, training steps only:        {core_train:8.0f} samples/s  "
          f"ratio {core_train / ref:.2f}x")
    return core / ref


# --- peak memory on 60,000 images, in a fresh process --------------------------------------------

def rss_child(mnist_dir: Path) -> None:
    ds = load_dataset(f"idx:{mnist_dir}")
    test_split = torch.cat([ds.train_x, ds.test_x])  # all 10,000 test-split images
    labels = torch.cat([ds.train_y, ds.test_y])
    big = ImageDataset("tiled-60k", test_split.repeat(6, 1, 1, 1), labels.repeat(6),
                       ds.test_x, ds.test_y, ds.class_names)
    t = time.perf_counter()
    samples, _, _ = run_vae_core(big, 1)
    rate = samples / (time.perf_counter() - t)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"{len(big.train_x)} {rate:.0f} {peak_mb:.0f}")


def peak_rss(mnist_dir: Path, threads: int = 0) -> float:
    out = subprocess.run([sys.executable, __file__, str(mnist_dir), "--rss-child",
                          "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout.split()
    n, rate, peak_mb = int(out[0]), float(out[1]), float(out[2])
    verdict = "OK" if peak_mb < RSS_LIMIT_MB else "OVER"
    print(f"peak RSS, vae_core one epoch on {n} 28x28 images (fresh process): {peak_mb:.0f} MB "
          f"({verdict}, limit {RSS_LIMIT_MB} MB); {rate:.0f} samples/s")
    return peak_mb


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mnist_dir", nargs="?", type=Path, default=DEFAULT_MNIST,
                   help=f"folder of MNIST IDX files (default {DEFAULT_MNIST})")
    p.add_argument("--trials", type=int, default=5, help="counted A/B alternations (default 5)")
    p.add_argument("--epochs", type=int, default=1, help="epochs per trial (default 1)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch.set_num_threads for both sides (default: torch's own choice)")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-memory subprocess")
    p.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.rss_child:
        rss_child(args.mnist_dir)
        return
    throughput(args.mnist_dir, args.trials, args.epochs)
    if not args.no_rss:
        peak_rss(args.mnist_dir, args.threads)


if __name__ == "__main__":
    main()
