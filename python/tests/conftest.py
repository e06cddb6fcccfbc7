"""Shared fixtures of the Python package tests: the CLI and the converted test models (ctest
passes ERRSEG_CLI and ERRSEG_TEST_MODELS; see python/CMakeLists.txt), small PNG writers."""
import os
import struct
import subprocess
import zlib

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "data", "fixtures")
IMAGES = [os.path.join(FIXTURES, "sample_400x300.png"), os.path.join(FIXTURES, "sample_257x385.png")]


def _env_path(name):
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set (run through ctest)")
    return value


@pytest.fixture(scope="session")
def cli():
    return _env_path("ERRSEG_CLI")


@pytest.fixture(scope="session")
def models_dir():
    return _env_path("ERRSEG_TEST_MODELS")


@pytest.fixture(scope="session")
def model_path(models_dir):
    return os.path.join(models_dir, "errseg_tiny.safetensors")


def run_cli(cli, *args):
    return subprocess.run([cli, *map(str, args)], check=True, capture_output=True, text=True).stdout


def write_rgb_png(path, rgb):
    """An 8-bit RGB PNG (filter 0), so tests need no imaging library."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\0" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def random_images(folder, count, seed=0):
    """`count` random RGB PNGs of sizes between 24 and 120 pixels in `folder`; their paths."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(count):
        h, w = rng.integers(24, 120, 2)
        paths.append(os.path.join(folder, f"img{i:02d}.png"))
        write_rgb_png(paths[-1], rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return paths
