"""Units of survey work (one file, one catalogue chunk) and where they run: here or on Dask.

Each unit is a plain function of picklable arguments (`deblur_file`, `deblur_catalog_chunk`), so
the same code runs in this process (`run_here`) or as one Dask task per unit (`run_on_dask`):

- The model is loaded once per process (`get_deblurrer` caches one `Deblurrer` per settings), so a
  Dask worker loads it on its first task and reuses it for every later one.
- A unit never raises for a bad input: it returns a result with ``status`` ``"failed"`` and the
  message, and the other units go on. A unit whose output already exists returns ``"exists"``
  when ``skip_existing`` is set, so an interrupted survey resumes where it stopped.
- Outputs are written under a temporary name in the target folder and renamed when complete
  (`seeinggan.infer.streaming`), so a worker killed mid-file leaves no partial output under the
  final name; Dask runs that unit again on another worker.

Dask (``dask.distributed``) is imported only by `run_on_dask`: without ``--workers`` or
``--scheduler`` the command line never imports it.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DeblurSettings",
    "deblur_catalog_chunk",
    "deblur_file",
    "get_deblurrer",
    "run_here",
    "run_on_dask",
]


@dataclass(frozen=True)
class DeblurSettings:
    """Everything a worker needs to build the same `Deblurrer` and write the same outputs."""

    model: str = "default"
    device: str = "auto"
    tile: int = 256
    overlap: int | str = 32
    batch_size: int = 4
    pixel_scale: float | None = None
    hdu: int | str | None = None
    output_pixel_scale: float | None = None
    skip_existing: bool = False
    torch_threads: int | None = None
    seeing: float | None = None
    sky: float | None = None
    noise: float | None = None
    overwrite: bool = False
    clean_cosmic_rays: bool = False
    gain: float | None = None
    support_guard: bool = True


_CACHE: dict[DeblurSettings, Any] = {}
_LOCK = threading.Lock()


def get_deblurrer(settings: DeblurSettings):
    """The process's `Deblurrer` for ``settings`` (built, and the model loaded, on first use)."""
    key = DeblurSettings(**{**asdict(settings), "pixel_scale": None, "hdu": None, "output_pixel_scale": None,
                            "skip_existing": False, "seeing": None, "sky": None, "noise": None,
                            "overwrite": False, "clean_cosmic_rays": False, "gain": None})
    with _LOCK:
        if key not in _CACHE:
            if settings.torch_threads:
                import torch

                torch.set_num_threads(int(settings.torch_threads))
            from seeinggan.infer import Deblurrer

            _CACHE.clear()
            _CACHE[key] = Deblurrer(
                settings.model, device=settings.device, tile=settings.tile, overlap=settings.overlap,
                batch_size=settings.batch_size, support_guard=settings.support_guard,
            )
        return _CACHE[key]


def _cosmic_ray_options(settings: DeblurSettings, image) -> dict[str, Any]:
    """``clean_cosmic_rays`` and ``gain`` (given, else the header's GAIN) for `Deblurrer.deblur_to_file`."""
    if not settings.clean_cosmic_rays:
        return {}
    from seeinggan.io.fits import header_gain

    gain = settings.gain if settings.gain is not None else header_gain(image.header)
    if gain is None:
        raise ValueError(f"{image.name}: cleaning cosmic rays needs the gain: no GAIN in the header; "
                         "pass --gain E_PER_COUNT")
    return {"clean_cosmic_rays": True, "gain": gain}


def deblur_file(
    source: str, target: str, settings: DeblurSettings, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Deblur one FITS file into ``target`` (streamed, bounded memory). Never raises for bad input.

    Returns
    -------
    dict
        ``kind`` ("file"), ``input``, ``output``, ``status`` (``ok``, ``exists``, ``failed``),
        ``seconds``, ``shape`` (output rows, cols), ``message``, ``warnings`` (the model's: seeing
        assumed, out of the trained range), ``host`` and ``pid``.
    """
    start = time.perf_counter()
    result: dict[str, Any] = {"kind": "file", "input": str(source), "output": str(target), "status": "",
                              "seconds": 0.0, "shape": None, "message": "", "warnings": [],
                              "host": os.uname().nodename, "pid": os.getpid()}
    if Path(target).exists() and settings.skip_existing:
        result.update(status="exists", message="finished by an earlier run; kept")
        return result
    try:
        from seeinggan.io.fits import read_image

        image = read_image(source, hdu=settings.hdu)
        if image.wcs is None and settings.pixel_scale is None:
            raise ValueError(f"{image.name}: no celestial WCS in the header; pass --pixel-scale ARCSEC")
        from seeinggan.models.conditions import seeing_from_header

        seeing, seeing_keyword = settings.seeing, "--seeing" if settings.seeing is not None else None
        if seeing is None and (found := seeing_from_header(image.header)) is not None:
            seeing, seeing_keyword = found
        deblurrer = get_deblurrer(settings)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = deblurrer.deblur_to_file(
                image.data, target, wcs=image.wcs,
                pixel_scale=None if image.wcs is not None else settings.pixel_scale,
                header=image.header, history=[f"deblur: input {image.name}"[:60]],
                output_pixel_scale=settings.output_pixel_scale, progress=progress, seeing=seeing,
                sky=settings.sky, noise=settings.noise, seeing_keyword=seeing_keyword,
                overwrite=settings.overwrite, **_cosmic_ray_options(settings, image),
            )
        result["warnings"] = [str(w.message) for w in caught]
        result.update(status="ok", shape=list(out.data.shape), pixel_scale=out.pixel_scale)
        del out
    except Exception as error:  # noqa: BLE001 - one file failing must not stop the others
        result.update(status="failed", message=str(error)[:500] or type(error).__name__)
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result


def deblur_catalog_chunk(
    image_path: str, hdu: int | None, sources: Sequence, output_dir: str, settings: DeblurSettings
) -> list[dict[str, Any]]:
    """Deblur the stamps of some catalogue sources from one image (one task of a catalogue run)."""
    from seeinggan.infer.catalog import deblur_chunk

    try:
        deblurrer = get_deblurrer(settings)
    except Exception as error:  # noqa: BLE001
        from seeinggan.infer.catalog import RESULT_COLUMNS

        return [{**{c: "" for c in RESULT_COLUMNS}, "id": s.id, "ra": s.ra, "dec": s.dec, "status": "failed",
                 "image": image_path, "message": str(error)[:300]} for s in sources]
    return deblur_chunk(deblurrer, image_path, hdu, sources, output_dir, skip_existing=settings.skip_existing,
                        output_pixel_scale=settings.output_pixel_scale, seeing=settings.seeing, sky=settings.sky,
                        noise=settings.noise, overwrite=settings.overwrite,
                        clean_cosmic_rays=settings.clean_cosmic_rays, gain=settings.gain)


def run_here(
    units: Sequence[tuple[Callable, tuple]],
    *,
    on_result: Callable[[Any], None],
) -> None:
    """Run units one after the other in this process, passing each result to ``on_result``."""
    for function, arguments in units:
        on_result(function(*arguments))


def run_on_dask(
    units: Sequence[tuple[Callable, tuple]],
    *,
    on_result: Callable[[Any], None],
    workers: int | None = None,
    scheduler: str | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """Run each unit as one Dask task, on a new local cluster (``workers``) or an existing one.

    Parameters
    ----------
    units : sequence of (function, arguments)
        The tasks; each function must be importable on the workers (``seeinggan`` installed there).
    on_result : callable
        Called in this process with each unit's result, as units finish (any order).
    workers : int, optional
        Start a local cluster of this many single-threaded worker processes on 127.0.0.1.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``, as printed by ``dask scheduler`` or a
        dask-jobqueue cluster's ``scheduler_address``).
    log : callable
        Where the dashboard link and worker notes go.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = LocalCluster(
            n_workers=int(workers or 1), threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", silence_logs=40,
        )
        client = Client(cluster)
    try:
        n_workers = len(client.scheduler_info().get("workers", {}))
        link = client.dashboard_link
        log(f"dask: {'scheduler ' + scheduler if scheduler else 'local cluster'}, {n_workers} worker(s); "
            f"dashboard {link} (needs bokeh on the scheduler)")
        futures = [client.submit(function, *arguments, pure=False) for function, arguments in units]
        owner = {future.key: arguments for future, (_, arguments) in zip(futures, units, strict=True)}
        for future in as_completed(futures):
            try:
                on_result(future.result())
            except Exception as error:  # noqa: BLE001 - e.g. KilledWorker after repeated crashes
                on_result({"kind": "error", "status": "failed", "arguments": owner.get(future.key),
                           "message": f"{type(error).__name__}: {error}"[:500]})
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
