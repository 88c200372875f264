"""The evaluation report: per-pair rows, the tables built from them, markdown and JSON.

The report leads with the measures that texture cannot game (band error and how often it beats
the ground image's, band power ratio, Fourier-ring resolution, texture rms, texture power ratio,
invented sources, flux errors), then the paper's Tables 1 and 2 (CW-SSIM, SSIM, PSNR), then
the same by morphological class and by seeing. Definitions: `seeinggan.evaluate.measures`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seeinggan.evaluate.measures import FIDELITY_METRICS, SEEING_BIN_EDGES, seeing_bin

__all__ = ["METHODS", "METHOD_TITLES", "METRICS", "EvaluationReport", "write_reports"]

METHODS = ("ground", "richardson_lucy", "seeinggan")
"""The methods of a run with one model (with several, each model is a method named after it)."""
METHOD_TITLES = {"ground": "Ground resampled", "richardson_lucy": "Richardson-Lucy",
                 "richardson_lucy_sharpest": "Richardson-Lucy, sharpest", "seeinggan": "SeeingGAN"}
METRICS = ("psnr", "ssim", "cw_ssim")
METRIC_TITLES = {"psnr": "PSNR (dB)", "ssim": "SSIM", "cw_ssim": "CW-SSIM"}


def method_title(method: str) -> str:
    """A column title: the baselines' names, else ``SeeingGAN <model>``."""
    return METHOD_TITLES.get(method, f"SeeingGAN {method}")


@dataclass
class EvaluationReport:
    """Scores of every method on every pair, and the tables built from them.

    Attributes
    ----------
    rows : list of dict
        One per pair: ``name``, ``class``, ``seeing_fwhm``, ``seeing_bin`` and per method
        ``{method}_{metric}`` for the `FIDELITY_METRICS <seeinggan.evaluate.measures>` and
        CW-SSIM/SSIM/PSNR, ``{method}_flux_error``, ``{method}_invented``, and
        ``{method}_cw_ssim_improvement`` (%, against ``ground``).
    methods : list of str
        The methods scored: ``ground``, ``richardson_lucy`` (and ``richardson_lucy_sharpest``
        when the band-error optimum invents more sources than allowed), then one per model (``seeinggan``
        for a single ``model=``; the model names for ``models=``).
    settings : dict
        Source (pairs folder or suite), models, Richardson-Lucy iterations and their validation
        scores, the reference of the fidelity measures (``fidelity_reference``), date...
    """

    rows: list[dict[str, Any]]
    methods: list[str]
    settings: dict[str, Any] = field(default_factory=dict)

    # -- tables ------------------------------------------------------------------------------

    def table1(self, rows: Sequence[dict[str, Any]] | None = None) -> dict[str, dict[str, dict[str, float]]]:
        """``{method: {metric: {"mean", "min", "max"}}}`` (the paper's Table 1)."""
        rows = self.rows if rows is None else rows
        return {
            method: {metric: _stats(r[f"{method}_{metric}"] for r in rows) for metric in METRICS}
            for method in self.methods
        }

    def table2(self, rows: Sequence[dict[str, Any]] | None = None) -> dict[str, dict[str, float]]:
        """``{method: {"mean", "std", "min", "max"}}`` of the CW-SSIM improvement over ground, %."""
        rows = self.rows if rows is None else rows
        return {
            method: _stats((r[f"{method}_cw_ssim_improvement"] for r in rows), std=True)
            for method in self.methods
            if method != "ground"
        }

    def fidelity(self, rows: Sequence[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
        """Per method: the fidelity measures' statistics, flux errors and invented sources.

        Keys per method: ``band_error`` (``{"mean", "min", "max"}``), ``band_error_below_ground``
        (fraction of pairs whose band error is below the ground image's; NaN for ``ground``),
        ``band_power_ratio``, ``frc_scale_arcsec``, ``texture_rms``, ``texture_power_ratio``
        (each ``{"mean", "min", "max"}``), ``median_flux_error``, ``median_abs_flux_error``,
        ``invented_per_image``, ``images_with_invented``.
        """
        rows = self.rows if rows is None else rows
        out = {}
        for method in self.methods:
            errors = np.array([r[f"{method}_flux_error"] for r in rows], dtype=float)
            errors = errors[np.isfinite(errors)]
            invented = np.array([r[f"{method}_invented"] for r in rows], dtype=float)
            entry: dict[str, Any] = {name: _stats(r.get(f"{method}_{name}") for r in rows) for name in FIDELITY_METRICS}
            entry["band_error_below_ground"] = (
                float("nan") if method == "ground" else _fraction_below(rows, method, "ground")
            )
            entry.update(
                median_flux_error=float(np.median(errors)) if errors.size else float("nan"),
                median_abs_flux_error=float(np.median(np.abs(errors))) if errors.size else float("nan"),
                invented_per_image=float(invented.mean()) if invented.size else float("nan"),
                images_with_invented=int(np.sum(invented > 0)),
            )
            out[method] = entry
        return out

    def groups(self, key: str) -> dict[str, list[dict[str, Any]]]:
        """Rows grouped by ``"class"`` or ``"seeing_bin"``."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            groups.setdefault(str(row.get(key, "unknown")), []).append(row)
        if key == "seeing_bin":
            order = [seeing_bin(x) for x in (0.0, *SEEING_BIN_EDGES)] + ["unknown"]
            return {k: groups[k] for k in order if k in groups}
        return dict(sorted(groups.items()))

    # -- output ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values (NaN as None)."""
        return _clean(
            {
                "settings": self.settings,
                "methods": self.methods,
                "n_pairs": len(self.rows),
                "fidelity": self.fidelity(),
                "table1": self.table1(),
                "table2": self.table2(),
                "by_class": {k: self._summary(v) for k, v in self.groups("class").items()},
                "by_seeing": {k: self._summary(v) for k, v in self.groups("seeing_bin").items()},
                "pairs": self.rows,
            }
        )

    def _summary(self, rows):
        return {"n_pairs": len(rows), "fidelity": self.fidelity(rows), "table1": self.table1(rows),
                "table2": self.table2(rows)}

    def _source(self) -> str:
        s = self.settings
        if s.get("suite"):
            first = (f", its first {s['suite_pairs']} of {s['suite_size']} pairs"
                     if s.get("suite_pairs") and s.get("suite_size") and s["suite_pairs"] < s["suite_size"] else "")
            return (f"Stress suite `{s['suite']}` (simulated, seed {s.get('suite_seed', '?')}{first}: "
                    f"{s.get('suite_description', '')})")
        return f"Pairs: `{s.get('pairs_dir')}`"

    def to_markdown(self, *, heading: str = "#") -> str:
        """The report as Markdown tables, with headings of level ``heading``."""
        s = self.settings
        titles = [method_title(m) for m in self.methods]
        header = "| | " + " | ".join(titles) + " |"
        rule = "|---|" + "---|" * len(self.methods)
        models = s.get("models") or {}
        model_text = ", ".join(f"{label} ({info.get('name')})" for label, info in models.items()) or "none"
        reference = s.get("fidelity_reference")
        reference_text = (
            "against the noiseless truth (`truth/`; the flux aperture is drawn on the space image)"
            if reference == "truth" else "against the space image (no `truth/`: no noiseless truth for these pairs)"
        )
        lines = [
            f"{heading} SeeingGAN evaluation",
            "",
            f"{self._source()}, {len(self.rows)} pairs, on the space grid.",
            f"Models: {model_text}. Richardson-Lucy: {s.get('rl_iterations')} iterations "
            f"({s.get('rl_iterations_source')})"
            + (f"; Richardson-Lucy, sharpest: {s['rl_iterations_sharpest']} iterations "
               f"({s.get('rl_iterations_sharpest_source')})." if s.get("rl_iterations_sharpest") else "."),
            f"Seeing per pair: {s.get('seeing_source', 'the pair metadata')}.",
            "",
            f"{heading}# Fidelity: restoration band, Fourier rings, texture, invented sources",
            "",
            f"Measured {reference_text}. Band: 0.5/FWHM-2/FWHM cycles/arcsec (what the seeing "
            "removed); texture power: 2/FWHM up to the space grid's Nyquist frequency. Definitions: "
            "`docs/metrics.md`.",
            "",
            header,
            rule,
        ]
        fid = self.fidelity()

        def cells(fmt) -> str:
            return " | ".join(fmt(fid[m], m) for m in self.methods)

        lines += [
            "| Band error, mean (lower is better; ground = doing nothing) | "
            + cells(lambda f, m: _f(f["band_error"]["mean"], ".3f")) + " |",
            "| Band error below the ground image's (% of pairs) | "
            + cells(lambda f, m: "-" if m == "ground" else _f(100 * f["band_error_below_ground"], ".0f", "%")) + " |",
            "| Band power ratio, mean (1 = the reference's power) | "
            + cells(lambda f, m: _f(f["band_power_ratio"]["mean"], ".2f")) + " |",
            '| FRC resolution, mean (", smaller is better) | '
            + cells(lambda f, m: _f(f["frc_scale_arcsec"]["mean"], ".3f")) + " |",
            "| Texture rms / reference's, mean | " + cells(lambda f, m: _f(f["texture_rms"]["mean"], ".2f")) + " |",
            "| Texture power ratio above 2/FWHM, mean | "
            + cells(lambda f, m: _f(f["texture_power_ratio"]["mean"], ".2f")) + " |",
            "| Invented sources per image | " + cells(lambda f, m: _f(f["invented_per_image"], ".2f")) + " |",
            "| Images with invented sources | " + cells(lambda f, m: str(f["images_with_invented"])) + " |",
            "| Median flux error (aperture) | "
            + cells(lambda f, m: _f(100 * f["median_flux_error"], "+.2f", "%")) + " |",
            "| Median absolute flux error | "
            + cells(lambda f, m: _f(100 * f["median_abs_flux_error"], ".2f", "%")) + " |",
            "",
            f"{heading}# Table 1: scores against the space image (mean / min / max)",
            "",
            "| Metric | " + " | ".join(titles) + " |",
            rule,
        ]
        t1 = self.table1()
        for metric in METRICS:
            best = max(self.methods, key=lambda m: _nan_low(t1[m][metric]["mean"]))
            row = []
            for m in self.methods:
                v = t1[m][metric]
                cell = f"{v['mean']:.3f} / {v['min']:.3f} / {v['max']:.3f}"
                row.append(f"**{cell}**" if m == best else cell)
            lines.append(f"| {METRIC_TITLES[metric]} | " + " | ".join(row) + " |")
        lines += ["", "Bold: the best mean. CW-SSIM rewards texture of the right energy wherever it sits; read "
                  "it beside the band error above.", "",
                  f"{heading}# Table 2: CW-SSIM improvement over the resampled ground image (%)", ""]
        t2 = self.table2()
        others = [m for m in self.methods if m != "ground"]
        lines += ["| | " + " | ".join(method_title(m) for m in others) + " |", "|---|" + "---|" * len(others)]
        for stat, title in (("mean", "Average"), ("std", "Standard deviation"), ("min", "Minimum"), ("max", "Maximum")):
            lines.append(f"| {title} | " + " | ".join(f"{t2[m][stat]:+.2f}%" for m in others) + " |")
        for key, title in (("class", "morphological class"), ("seeing_bin", "seeing FWHM")):
            lines += ["", f"{heading}# By {title}", "",
                      "| Group | N | " + " | ".join(f"Band error {method_title(m)}" for m in self.methods)
                      + "".join(f" | CW-SSIM {method_title(m)}" for m in self.methods)
                      + "".join(f" | Flux error {method_title(m)}" for m in others) + " |",
                      "|---|---|" + "---|" * (2 * len(self.methods) + len(others))]
            for group, rows in self.groups(key).items():
                g1, gf = self.table1(rows), self.fidelity(rows)
                lines.append(
                    f"| {group} | {len(rows)} | "
                    + " | ".join(_f(gf[m]["band_error"]["mean"], ".3f") for m in self.methods)
                    + "".join(f" | {g1[m]['cw_ssim']['mean']:.3f}" for m in self.methods)
                    + "".join(f" | {_f(100 * gf[m]['median_flux_error'], '+.2f', '%')}" for m in others)
                    + " |"
                )
        lines += ["", "Definitions: `seeinggan.evaluate.measures` and `docs/metrics.md`.", ""]
        if s.get("command"):
            lines += [f"Command: `{s['command']}`", ""]
        return "\n".join(lines)

    def write(self, directory: str | os.PathLike, *, overwrite: bool = False) -> tuple[Path, Path]:
        """Write ``report.md`` and ``report.json`` into ``directory`` (created)."""
        return write_reports({"": self}, directory, overwrite=overwrite)


def write_reports(
    reports: dict[str, EvaluationReport], directory: str | os.PathLike, *, overwrite: bool = False
) -> tuple[Path, Path]:
    """Write one or several reports as ``directory/report.md`` and ``directory/report.json``.

    One report is written as it is. Several (a pairs folder and stress suites, keyed by their
    names) go into one markdown file, a section each, and one JSON ``{"reports": {name: ...}}``.
    Files are written under temporary names and renamed when complete.
    """
    from seeinggan.errors import OutputExistsError
    from seeinggan.io.atomic import atomic_write_text, check_output_folder

    directory = Path(directory)
    paths = (directory / "report.md", directory / "report.json")
    if not overwrite:
        for path in paths:
            if path.exists():
                raise OutputExistsError(f"{path}: exists; refusing to overwrite the report")
    if len(reports) == 1:
        (report,) = reports.values()
        markdown, data = report.to_markdown(), report.to_dict()
    else:
        parts = ["# SeeingGAN evaluation: " + ", ".join(reports), ""]
        parts += [report.to_markdown(heading="##").replace("## SeeingGAN evaluation", f"## {name}", 1)
                  for name, report in reports.items()]
        markdown = "\n".join(parts)
        data = {"reports": {name: report.to_dict() for name, report in reports.items()}}
    texts = (markdown, json.dumps(data, indent=2) + "\n")
    check_output_folder(directory, needed_bytes=sum(len(t) for t in texts), what="the report")
    for path, text in zip(paths, texts, strict=True):
        atomic_write_text(path, text, overwrite=overwrite)  # each whole or absent
    return paths


def _f(value: float, spec: str, suffix: str = "") -> str:
    return f"{value:{spec}}{suffix}" if value is not None and math.isfinite(value) else "n/a"


def _fraction_below(rows, method: str, baseline: str) -> float:
    pairs = [(r.get(f"{method}_band_error"), r.get(f"{baseline}_band_error")) for r in rows]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    if not pairs:
        return float("nan")
    return float(np.mean([a < b for a, b in pairs]))


def _nan_low(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _stats(values, *, std: bool = False) -> dict[str, float]:
    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    array = array[np.isfinite(array)]
    if array.size == 0:
        out = {"mean": float("nan"), "min": float("nan"), "max": float("nan")}
        if std:
            out["std"] = float("nan")
        return out
    out = {"mean": float(array.mean()), "min": float(array.min()), "max": float(array.max())}
    if std:
        out["std"] = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return out


def _clean(value):
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    return value
