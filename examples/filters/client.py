"""Drive the C++ filters worker from Python, as a napari plugin or a notebook would.

Usage: python client.py FILTERS_WORKER [--size N] [--repeat R]

Runs in a Python with appose 0.12.0, NumPy, SciPy and scikit-image (``segment --python``
prints one: the environment the segment example builds). It starts examples/filters'
worker with appose-python's own ``Service``, puts an N x N float32 image (default 4096) and a
mask made from it in shared memory, and calls each OpenCV operation of the worker twice: once
letting the worker create the result array, once writing into an array of the caller's. Every
result is checked against SciPy/scikit-image, computed here; a mismatch beyond the tolerance
exits with status 1. Then it prints the median time per call (R calls) through the worker --
request, operation, response, and attaching the result, so the whole hand-off -- next to the
same operation in-process.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from appose import NDArray
from appose.service import Service
from scipy import ndimage as ndi
from skimage import measure

SIGMA = 3.0
# OpenCV computes resize's source coordinates in single precision: at 4096 pixels that places
# them up to ~2.5e-4 pixel off SciPy's (double precision), which times the image's steps between
# neighbours (up to ~1.5: the noise) is ~4e-4. A misaligned grid (corners instead of centres)
# would differ by tenths.
RESIZE_TOLERANCE = 1e-3


def timed(fn, repeat, cleanup=None):
    """The median wall time of ``fn()`` over ``repeat`` calls, in ms, and its last result
    (``cleanup`` gets each earlier one)."""
    times = []
    result = None
    for i in range(repeat):
        if i > 0 and cleanup is not None:
            cleanup(result)
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times), result


def call(service, op, inputs):
    """One call through the worker: request, operation, response, and the result's block
    attached here (the service decodes ``out`` into an NDArray mapping the worker's block)."""
    return service.task(op, inputs).wait_for().outputs


def release(outputs):
    """Unlinks the block the worker created for ``out``: the host owns a block it receives
    (Appose's rule), and appose-python's host unlinks it itself."""
    out = outputs.get("out")
    if out is not None:
        out.shm.unlink()
        out.shm.close()


def same_labels(ours, theirs):
    """Whether two label images describe the same regions, whatever their numbering."""
    if not np.array_equal(ours > 0, theirs > 0):
        return False
    pairs = np.unique(ours.astype(np.int64) * (int(theirs.max()) + 1) + theirs)
    return len(pairs) == len(np.unique(ours)) == len(np.unique(theirs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("worker", help="path of the filters_worker executable")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.size

    # A test image: smooth blobs (sines) plus noise; the mask is its bright part.
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    rng = np.random.default_rng(19)
    pixels = np.sin(x / 37.0) * np.cos(y / 53.0) + 0.2 * rng.standard_normal((n, n))
    pixels = pixels.astype(np.float32)
    del x, y

    service = Service(Path(args.worker).parent, None, str(Path(args.worker).resolve()))
    failures = []
    rows = []
    try:
        with NDArray("float32", [n, n]) as image, NDArray("uint8", [n, n]) as mask:
            start = time.perf_counter()
            image.ndarray()[:] = pixels
            copy_ms = (time.perf_counter() - start) * 1000.0
            mask.ndarray()[:] = pixels > 0.5
            img, msk = image.ndarray(), mask.ndarray()

            # The hand-off alone: a call on a 1 x 1 image (request, response, a new block).
            with NDArray("float32", [1, 1]) as tiny:
                handoff_ms, last = timed(
                    lambda: call(service, "resize", {"image": tiny, "width": 1, "height": 1}),
                    20, release)
                release(last)
            height, width = n // 2 + n // 7, n // 2 - n // 9
            ops = [
                ("gaussian_blur", {"image": image, "sigma": SIGMA}, "float32", [n, n],
                 lambda: ndi.gaussian_filter(img, SIGMA, mode="mirror", truncate=4.0), 1e-4),
                ("distance_transform", {"mask": mask}, "float32", [n, n],
                 lambda: ndi.distance_transform_edt(msk), 1e-3),
                ("connected_components", {"mask": mask, "connectivity": 8}, "int32", [n, n],
                 lambda: measure.label(msk, connectivity=2), None),
                ("resize", {"image": image, "width": width, "height": height}, "float32",
                 [height, width],
                 lambda: ndi.zoom(img, (height / n, width / n), order=1, grid_mode=True,
                                  mode="nearest"), RESIZE_TOLERANCE),
            ]
            for op, inputs, dtype, shape, reference, tolerance in ops:
                new_ms, outputs = timed(lambda: call(service, op, inputs), args.repeat, release)
                ref_ms, expected = timed(reference, args.repeat)
                with NDArray(dtype, shape) as given:
                    given_ms, given_outputs = timed(
                        lambda: call(service, op, {**inputs, "out": given}), args.repeat)
                    if "out" in given_outputs:
                        failures.append(f"{op}: returned a new array although given one")
                    checks = [("new array", outputs["out"].ndarray(), outputs),
                              ("caller's out", given.ndarray(), given_outputs)]
                    worst = 0.0
                    for name, got, outs in checks:
                        if tolerance is None:
                            ok = same_labels(got, expected) and outs["count"] == expected.max()
                            detail = f"{outs['count']} regions, as skimage's"
                        else:
                            diff = float(np.max(np.abs(got.astype(np.float64) - expected)))
                            ok = diff <= tolerance
                            worst = max(worst, diff)
                            detail = f"max abs diff {worst:.1e}"
                        if not ok:
                            failures.append(f"{op} ({name}): {detail}")
                    del checks, got
                release(outputs)
                rows.append((op, new_ms, given_ms, ref_ms, detail))
            del img, msk
    finally:
        service.close()
        service.wait_for()

    print(f"{n} x {n} float32 image; median of {args.repeat} calls; "
          f"copying the image into shared memory once: {copy_ms:.1f} ms; "
          f"a call's hand-off alone (1 x 1 image): {handoff_ms:.2f} ms")
    print(f"| operation | worker, new array (ms) | worker, into caller's out (ms) "
          f"| SciPy/scikit-image in-process (ms) | check |")
    print("|---|---:|---:|---:|---|")
    for op, new_ms, given_ms, ref_ms, detail in rows:
        print(f"| {op} | {new_ms:.1f} | {given_ms:.1f} | {ref_ms:.1f} | {detail} |")
    if failures:
        print("MISMATCH: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
