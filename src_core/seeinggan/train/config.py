"""Training configuration: a dataclass, read from TOML, with ``key=value`` overrides."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_type_hints

from seeinggan.errors import SeeingGANError

__all__ = ["TrainConfig", "ConfigError", "TRAINING_PRIORS"]

TRAINING_PRIORS = ("default", "broad", "fidelity_v1")
"""Names a config's ``prior`` may take (see `TrainConfig.prior`)."""


class ConfigError(SeeingGANError, ValueError):
    """A training configuration that cannot be used (unknown key, wrong type, bad value)."""


@dataclass
class TrainConfig:
    """Everything that decides a training run (saved in checkpoints and model metadata).

    A TOML file holds the same keys, flat or grouped in tables (``[model]``, ``[loss]``...;
    table names are only for reading, each key is unique). See ``seeinggan/configs/default.toml``.
    """

    # --- schedule
    steps: int = 20000
    """Generator updates."""
    batch_size: int = 16
    crop_size: int = 128
    """Side of the square training crops (multiple of 16, >= 32)."""
    seed: int = 0
    """Seeds torch, numpy, python and the sample order."""

    # --- networks
    base_channels: int = 16
    """Generator width (64 = the paper's 28 M parameters; 16 = 1.8 M, the shipped size)."""
    n_down: int = 4
    n_res: int = 4
    residual: bool = True
    """The generator learns a correction added to its input."""
    antialias: bool = False
    """Blur before subsampling in the generator's down blocks."""
    upsample: str = "subpixel"
    """Generator up blocks: "subpixel" (the paper's) or "resize" (bilinear + conv, no lattice)."""
    n_conditions: int = 0
    """0, or 2: the generator is told each image's seeing and input pixel scale."""
    critic_base_channels: int = 32
    critic_dropout: float = 0.2

    # --- optimisation (Adam)
    lr_g: float = 2e-4
    lr_c: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.9)
    lr_decay: str = "cosine"
    """"none", or "cosine" (both learning rates decay to 1% at the last step)."""
    critic_steps: int = 1
    """Critic updates per generator update (on the same batch)."""
    gp_weight: float = 10.0
    """Weight of the WGAN-GP gradient penalty in the critic loss."""

    # --- generator objective
    l1: float = 1.0
    structural: float = 0.5
    perceptual: float = 0.0
    adversarial: float = 0.01
    adversarial_after: int = 0
    """Generator steps before the adversarial term (and the critic) start."""
    adversarial_ramp: int = 0
    """Steps over which the adversarial weight rises linearly from 0 to ``adversarial`` once it
    starts (a warm-up: the critic learns while the generator barely listens); 0 = at once."""
    consistency: float = 0.0
    """Weight of the data-consistency term (output re-blurred by the pair's PSF vs the input,
    in noise units); needs pairs with a known PSF (simulated ones)."""
    band: float = 0.0
    """Weight of the restoration-band error term (`seeinggan.losses.band_error`)."""
    lowband: float = 0.0
    """Weight of the same error below the restoration band (0 to 0.5/FWHM, total flux included)."""
    power: float = 0.0
    """Weight of the band power mismatch (`seeinggan.losses.band_power_mismatch`): asks for the
    truth's amount of structure in the restoration band (a band-error-only model is too smooth)."""
    target: str = "space"
    """Train towards "space" (the space image) or "truth" (the noiseless truth, when pairs have it)."""
    sky_jitter: float = 0.0
    """Training perturbs the fitted sky by up to this many noise units (uniform)."""
    noise_jitter: float = 0.0
    """Training perturbs the fitted noise by up to this fraction (uniform)."""
    structural_levels: tuple[int, ...] = (2, 3, 4)
    """DT-CWT levels of the structural term and of network-unit validation (1 = finest; an
    int ``n`` means 1..n). The default, levels 2-4, is `seeinggan.metrics.cw_ssim`'s own."""
    vgg19_weights: str = ""
    """Local VGG-19 ImageNet weights (torchvision layout) for the perceptual term."""
    vgg19_layer: str = "conv3_1"

    # --- data (used by ``seeinggan train`` / `datasets_from_config`)
    simulate_pairs: int = 0
    """Distinct simulated training pairs; 0 = a fresh simulated pair for every sample."""
    simulate_seed: int = 1
    val_pairs: int = 32
    """Validation pairs: simulated with ``val_seed``, or split off a pairs folder."""
    val_seed: int = 2
    val_fraction: float = 0.1
    """Fraction of a pairs folder held out for validation."""
    seeing_fwhm: tuple[float, float] = (0.5, 1.2)
    """Range of simulated seeing FWHM (arcsec); with ``prior = "broad"`` the prior's range."""
    prior: str = "default"
    """Simulated training pairs: "default" (`simulate_pair` with ``seeing_fwhm``), "broad"
    (`seeinggan.simulate.priors.PRIORS`: every stress suite's pixel scales, seeing, PSFs, noise
    and scenes, the galaxy-filled cutouts and deep fields included; ``seeing_fwhm`` is not
    used) or "fidelity_v1" (`seeinggan.train.prior`, the first fidelity model's prior: pixel
    scales 0.15-0.6", seeing ``seeing_fwhm``, fields, bright smooth galaxies). Pairs keep their
    noiseless truth."""
    softening: float = 0.0
    """Intensity transform softening (0 = the transform's default)."""
    num_workers: int = 0
    """Data loading processes (0 = in the training process)."""

    # --- hardware
    device: str = "auto"
    """"auto" (cuda, then mps, then cpu), "cpu", "cuda", "cuda:N" or "mps"."""
    amp: bool = True
    """bf16 autocast on CUDA (ignored elsewhere)."""
    threads: int = 0
    """torch CPU threads (0 = torch's default)."""

    # --- reporting and files
    log_every: int = 50
    val_every: int = 500
    val_samples: int = 64
    """At most this many validation samples per validation."""
    preview_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    output_dir: str = "runs/seeinggan"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `ConfigError` naming the first bad value."""
        self.betas = cast(tuple[float, float], tuple(float(b) for b in self.betas))  # TOML gives lists
        self.seeing_fwhm = cast(tuple[float, float], tuple(float(b) for b in self.seeing_fwhm))
        if isinstance(self.structural_levels, int):
            self.structural_levels = tuple(range(1, self.structural_levels + 1))
        self.structural_levels = tuple(int(level) for level in self.structural_levels)
        m = 2**self.n_down
        checks = [
            (self.steps >= 0, "steps must be >= 0"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.crop_size % m == 0 and self.crop_size >= 2 * m,
             f"crop_size must be a multiple of {m} and >= {2 * m}"),
            (self.base_channels >= 1 and self.critic_base_channels >= 1, "channels must be >= 1"),
            (self.lr_g > 0 and self.lr_c > 0, "learning rates must be > 0"),
            (len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas must be two numbers in [0, 1)"),
            (self.lr_decay in ("none", "cosine"), "lr_decay must be 'none' or 'cosine'"),
            (self.upsample in ("subpixel", "resize"), "upsample must be 'subpixel' or 'resize'"),
            (self.n_conditions in (0, 2), "n_conditions must be 0 or 2 (seeing, input pixel scale)"),
            (self.target in ("space", "truth"), "target must be 'space' or 'truth'"),
            (self.prior in TRAINING_PRIORS, f"prior must be one of {', '.join(TRAINING_PRIORS)}"),
            (self.sky_jitter >= 0 and 0 <= self.noise_jitter < 1, "sky_jitter >= 0, 0 <= noise_jitter < 1"),
            (self.critic_steps >= 1, "critic_steps must be >= 1"),
            (self.adversarial_ramp >= 0 and self.adversarial_after >= 0,
             "adversarial_after and adversarial_ramp must be >= 0"),
            (min(self.l1, self.structural, self.perceptual, self.adversarial, self.gp_weight, self.consistency,
                 self.band, self.lowband, self.power) >= 0,
             "loss weights must be >= 0"),
            (len(self.structural_levels) > 0 and min(self.structural_levels) >= 1,
             "structural_levels must name DT-CWT levels >= 1"),
            (self.structural == 0 or self.crop_size >= _cw_ssim_min_size(max(self.structural_levels)),
             f"crop_size {self.crop_size} is too small for structural_levels {list(self.structural_levels)}"
             f" (needs {_cw_ssim_min_size(max(self.structural_levels))})"),
            (self.l1 + self.structural + self.perceptual + self.adversarial + self.consistency + self.band
             + self.lowband + self.power > 0,
             "all loss weights are 0"),
            (self.perceptual == 0 or bool(self.vgg19_weights),
             "perceptual > 0 needs vgg19_weights (a local VGG-19 file)"),
            (len(self.seeing_fwhm) == 2 and 0 < self.seeing_fwhm[0] <= self.seeing_fwhm[1],
             "seeing_fwhm must be (low, high) with 0 < low <= high"),
            (0 <= self.val_fraction < 1, "val_fraction must be in [0, 1)"),
            (self.device == "auto" or self.device.split(":")[0] in ("cpu", "cuda", "mps"),
             "device must be auto, cpu, cuda, cuda:N or mps"),
            (min(self.log_every, self.val_every, self.preview_every, self.checkpoint_every) >= 0,
             "*_every must be >= 0 (0 = never)"),
            (self.keep_checkpoints >= 1, "keep_checkpoints must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    # --- conversions -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-able values (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "config") -> TrainConfig:
        """Build from a (possibly table-grouped) dict; unknown keys and wrong types are errors."""
        flat = _flatten(values, source=source)
        hints = get_type_hints(cls)
        unknown = sorted(set(flat) - set(hints))
        if unknown:
            raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}")
        converted = {k: _convert(v, hints[k], key=k, source=source) for k, v in flat.items()}
        try:
            return cls(**converted)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None

    @classmethod
    def from_toml(cls, path: str | Path, *, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
        """Read a TOML file, then apply ``key=value`` overrides (values in TOML syntax)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            values = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid TOML ({error})") from None
        flat = _flatten(values, source=str(path))
        flat.update(parse_overrides(overrides))
        return cls.from_dict(flat, source=str(path))


def _cw_ssim_min_size(levels: int) -> int:
    from seeinggan.metrics import DEFAULT_WINDOW, min_size_for_levels

    return min_size_for_levels(levels, DEFAULT_WINDOW)


def parse_overrides(overrides) -> dict[str, Any]:
    """``["steps=100", "betas=[0.5, 0.99]", "device=cpu"]`` -> dict (TOML values, else strings)."""
    result: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not key=value")
        try:
            result[key] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            result[key] = text.strip()  # bare words: device=cuda, output_dir=runs/x
    return result


def _flatten(values: dict[str, Any], *, source: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for k, v in items:
            if isinstance(v, dict):
                raise ConfigError(f"{source}: tables nest one level only ({key}.{k})")
            if k in flat:
                raise ConfigError(f"{source}: setting {k!r} given twice")
            flat[k] = v
    return flat


def _convert(value: Any, hint: Any, *, key: str, source: str) -> Any:
    origin = getattr(hint, "__origin__", hint)
    try:
        if origin is bool:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if origin is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError
            return value
        if origin is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
            return float(value)
        if origin is str:
            if not isinstance(value, str):
                raise TypeError
            return value
        if origin is tuple:
            integers = getattr(hint, "__args__", (float,))[0] is int
            if integers and isinstance(value, int) and not isinstance(value, bool):
                return value  # n levels: 1..n
            kinds = int if integers else (int, float)
            if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, kinds) and not isinstance(v, bool) for v in value
            ):
                raise TypeError
            return tuple(int(v) if integers else float(v) for v in value)
    except TypeError:
        name = getattr(hint, "__name__", str(hint))
        raise ConfigError(f"{source}: {key} must be {name}, got {value!r}") from None
    return value

